"""``python -m scanners``: one line per verdict, exit statuses, the offline queue, the setup check."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scanners import setup_check
from scanners.cli import Printer, main
from scanners.client import VerificationResult
from scanners.scans import GS
from tests.unit.test_scanners_client import PACK, StubServer, closed_port_url, problem, result_json

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
UNKNOWN = ("UNKNOWN_PACK", "This serial number was never commissioned: suspected counterfeit.")
GS_REPAIRED = ("GS_RECOVERED", "The missing GS separator was restored.")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Ascii(io.StringIO):
    encoding = "ascii"


@pytest.fixture()
def stub():
    with StubServer() as server:
        yield server


def run(*argv: str, stdin: str = "", env: dict | None = None, out: io.StringIO | None = None):
    out, err = out or io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(stdin), stdout=out, stderr=err, env=env or {})
    return code, out.getvalue(), err.getvalue()


def line(data: dict, out: io.StringIO | None = None, **kw) -> str:
    out = out or io.StringIO()
    Printer(out, **kw).result(VerificationResult.from_json(data), label=PACK)
    return out.getvalue()


# ---------------------------------------------------------------- one line per verdict


def test_a_genuine_pack_shows_a_tick_the_product_batch_and_expiry():
    assert line(result_json()) == "✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31\n"


def test_an_alerting_verdict_shows_its_findings_and_the_alert_case():
    data = result_json("UNKNOWN_PACK", alert=True, alert_id=7, findings=[UNKNOWN])
    assert line(data) == ("✗ UNKNOWN_PACK  Paracetamol 500 · batch 12345 · expiry 2027-05-31 · This serial number "
                          "was never commissioned: suspected counterfeit. · alert #7\n")


def test_a_verdict_that_is_not_ok_but_raises_no_alert_shows_a_warning():
    data = result_json("EXPIRED", findings=[("EXPIRED", "Expired on 2024-05-31.")], expiry="240531")
    assert line(data) == "! EXPIRED  Paracetamol 500 · batch 12345 · expiry 2024-05-31 · Expired on 2024-05-31.\n"


def test_repairs_made_to_the_scan_are_shown():
    assert line(result_json(repairs=[GS_REPAIRED])) == (
        "✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31 · repaired: The missing GS separator was restored.\n")


def test_a_scan_without_a_product_shows_its_gtin_or_else_what_was_scanned():
    unregistered = result_json("UNREGISTERED_PRODUCT", alert=True, alert_id=None, product=None, batch=None,
                               expiry=None, findings=[("UNREGISTERED_PRODUCT", "This GTIN is not registered.")])
    assert line(unregistered) == ("✗ UNREGISTERED_PRODUCT  GTIN 04601234567893 · This GTIN is not registered. "
                                  "· alert raised\n")
    invalid = result_json("INVALID_CODE", product=None, batch=None, expiry=None,
                          findings=[("INVALID_CODE", "Wrong check digit.")])
    invalid["scan"]["gtin"] = None
    assert line(invalid) == "! INVALID_CODE  ]d20104601234567893172705311012345<GS>21SERIAL1 · Wrong check digit.\n"


def test_colour_marks_the_verdict_only_on_a_terminal():
    data = result_json("UNKNOWN_PACK", alert=True, alert_id=7)
    assert line(result_json(), color=True).startswith("\x1b[32m✓ OK\x1b[0m  Paracetamol 500")
    assert line(data, color=True).startswith("\x1b[1;31m✗ UNKNOWN_PACK\x1b[0m  Paracetamol 500")


def test_a_terminal_that_cannot_show_the_marks_gets_plain_ones():
    assert line(result_json(), Ascii()) == "+ OK  Paracetamol 500 | batch 12345 | expiry 2027-05-31\n"


# ---------------------------------------------------------------- files


def _photos(tmp_path: Path, *names: str) -> list[str]:
    for name in names:
        (tmp_path / name).write_bytes(PNG)
    return [str(tmp_path / n) for n in names]


def _opts(stub_url: str, tmp_path: Path) -> list[str]:
    return ["--server", stub_url, "--token", "tok", "--queue", str(tmp_path / "queue.sqlite3"), "--retries", "0"]


def test_files_exit_non_zero_when_any_scan_is_alerting(tmp_path, stub):
    a, b = _photos(tmp_path, "a.png", "b.png")
    stub.answer(200, {"results": [result_json()]})
    stub.answer(200, {"results": [result_json("UNKNOWN_PACK", alert=True, alert_id=3, findings=[UNKNOWN])]})
    code, out, _ = run("files", a, b, *_opts(stub.url, tmp_path))
    assert code == 1
    assert out.splitlines() == [
        "✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31",
        "✗ UNKNOWN_PACK  Paracetamol 500 · batch 12345 · expiry 2027-05-31 · This serial number was never "
        "commissioned: suspected counterfeit. · alert #3"]
    assert [r.path for r in stub.requests] == ["/api/v1/verify/photo"] * 2


def test_files_exit_zero_when_nothing_alerts_even_if_not_all_ok(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    stub.answer(200, {"results": [result_json(), result_json("EXPIRED", expiry="240531")]})
    code, out, _ = run(*_opts(stub.url, tmp_path), "files", a)  # options before the command work too
    assert (code, len(out.splitlines())) == (0, 2)


def test_a_photo_without_a_code_is_not_verified(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    stub.answer(200, {"results": []})
    code, out, _ = run("files", a, *_opts(stub.url, tmp_path))
    assert (code, out) == (3, f"! NO_CODE  {a} · no code was found in the image\n")


def test_files_refuse_a_file_that_is_not_an_image_before_sending_anything(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    (tmp_path / "b.txt").write_text("hello")
    code, out, err = run("files", a, str(tmp_path / "b.txt"), *_opts(stub.url, tmp_path))
    assert (code, out, err) == (2, "", f"python -m scanners: {tmp_path / 'b.txt'}: not a PNG or JPEG image\n")
    assert stub.requests == []


def test_a_refusal_by_the_server_is_shown_with_its_code(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    stub.answer(*problem(401, "UNAUTHENTICATED", "Sign-in required"))
    code, out, _ = run("files", a, *_opts(stub.url, tmp_path))
    assert (code, out) == (3, f"✗ ERROR UNAUTHENTICATED  {a} · Sign-in required\n")


def test_without_a_server_the_command_says_how_to_give_one(tmp_path):
    [a] = _photos(tmp_path, "a.png")
    assert run("files", a, "--token", "t") == (
        2, "", "python -m scanners: No server: give --server URL or set PHARMA_SERVER.\n")
    assert run("files", a, "--server", "http://x") == (
        2, "", "python -m scanners: No API token: give --token TOKEN or set PHARMA_TOKEN.\n")


def test_server_and_token_come_from_the_environment(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    env = {"PHARMA_SERVER": stub.url, "PHARMA_TOKEN": "env-token", "PHARMA_SCANNER_QUEUE": str(tmp_path / "q")}
    stub.answer(200, {"results": [result_json()]})
    assert run("files", a, env=env)[0] == 0
    assert stub.requests[0].headers["Authorization"] == "Bearer env-token"


# ---------------------------------------------------------------- offline, then back


def test_scans_made_while_the_server_is_away_are_queued_then_replayed(tmp_path, stub):
    a, b = _photos(tmp_path, "a.png", "b.png")
    offline = ["--server", closed_port_url(), "--token", "tok", "--queue", str(tmp_path / "q"), "--retries", "0"]
    code, out, _ = run("files", a, b, *offline)
    assert code == 3
    assert out.splitlines() == [
        f"… QUEUED  {a} · the server is unavailable; kept in the offline queue (1 waiting)",
        f"… QUEUED  {b} · the server is unavailable; kept in the offline queue (2 waiting)"]
    stub.answer(200, {"results": [result_json()]})
    stub.answer(200, {"results": [result_json("UNKNOWN_PACK", alert=True, alert_id=9)]},
                {"Idempotent-Replayed": "true"})
    code, out, _ = run("replay", "--server", stub.url, "--token", "tok", "--queue", str(tmp_path / "q"))
    lines = out.splitlines()
    assert code == 1
    assert lines[0].startswith("✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31 · from the offline queue, "
                               "queued ")
    assert lines[0].endswith(" UTC")
    assert lines[1].endswith(" UTC (already counted)") and "· alert #9 · from the offline queue, queued " in lines[1]
    assert lines[2] == "Replayed 2 of 2 queued scans; 0 still waiting."


def test_the_wedge_sends_the_queue_once_the_server_answers_again(tmp_path, stub):
    stub.answer(503, b"down", {"Content-Type": "text/plain"})  # the first scan finds the server down
    code, out, _ = run("wedge", "--gs-substitute", "|", *_opts(stub.url, tmp_path),
                       stdin="]d2010460123456789321S1|10B1\n]d2010460123456789321S2|10B1\n")
    lines = out.splitlines()
    assert code == 3  # one scan had no verdict when it was made
    assert lines[0] == ("… QUEUED  ]d2010460123456789321S1<GS>10B1 · the server is unavailable; kept in the offline "
                        "queue (1 waiting)")
    assert lines[1] == "✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31"
    assert lines[2].startswith("✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31 · from the offline queue")
    bodies = [json.loads(r.body)["scan"] for r in stub.requests]
    assert bodies == [f"]d2010460123456789321S1{GS}10B1", f"]d2010460123456789321S2{GS}10B1",
                      f"]d2010460123456789321S1{GS}10B1"]
    assert stub.requests[0].headers["Idempotency-Key"] == stub.requests[2].headers["Idempotency-Key"]


def test_once_the_server_is_known_to_be_away_scans_are_queued_without_waiting_for_retries(tmp_path, stub):
    for _ in range(3):
        stub.answer(503, b"down", {"Content-Type": "text/plain"})
    options = ["--server", stub.url, "--token", "tok", "--queue", str(tmp_path / "q"), "--retries", "1"]
    code, out, _ = run("wedge", *options, stdin="0104601234567893211\n0104601234567893212\n0104601234567893213\n")
    scans = [json.loads(r.body)["scan"][-1] for r in stub.requests]
    assert scans == ["1", "1", "2", "3", "1", "2"]  # 1 retried once, 2 sent once, 3 answered, then the queue
    assert [ln[:8] for ln in out.splitlines()] == ["… QUEUED", "… QUEUED", "✓ OK  Pa", "✓ OK  Pa", "✓ OK  Pa"]
    assert code == 3


def test_replay_with_an_empty_queue(tmp_path, stub):
    assert run("replay", *_opts(stub.url, tmp_path)) == (0, "Replayed 0 of 0 queued scans; 0 still waiting.\n", "")


def test_watch_verifies_photos_dropped_in_the_folder(tmp_path, stub):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _photos(inbox, "a.png")
    stub.answer(200, {"results": [result_json()]})
    code, out, _ = run("watch", str(inbox), "--interval", "0.01", "--stop-after", "0.2", *_opts(stub.url, tmp_path))
    assert (code, out) == (0, "✓ OK  Paracetamol 500 · batch 12345 · expiry 2027-05-31\n")
    assert (inbox / "processed" / "a.png").exists()


def test_colour_is_used_on_a_terminal_unless_no_color_is_set(tmp_path, stub):
    [a] = _photos(tmp_path, "a.png")
    stub.answer(200, {"results": [result_json()]})
    stub.answer(200, {"results": [result_json()]})
    assert "\x1b[32m✓ OK\x1b[0m" in run("files", a, *_opts(stub.url, tmp_path), out=Terminal())[1]
    assert "\x1b[" not in run("files", a, *_opts(stub.url, tmp_path), out=Terminal(), env={"NO_COLOR": "1"})[1]


# ---------------------------------------------------------------- setup check


def test_setup_check_prints_the_label_data():
    assert run("setup-check", "--print-label") == (0, (
        "Print this as a square GS1 Data Matrix (bracket syntax):\n"
        "[01]09520123456788[17]351231[10]Ww7/:;<=>?_[21]Aa9Zz0Ii!\"%&'()*+,-.\n"
        "A correctly set up scanner sends (<GS> is the GS character, 0x1D):\n"
        "]d201095201234567881735123110Ww7/:;<=>?_<GS>21Aa9Zz0Ii!\"%&'()*+,-.\n"), "")


def test_setup_check_passes_a_scanner_that_sends_the_label_exactly():
    code, out, err = run("setup-check", stdin=setup_check.TEST_LABEL.scan + "\n")
    assert code == 0
    assert out.splitlines()[-1] == "✓ SETUP_OK  The scanner sends the test label exactly as printed."
    assert err == "Scan the scanner test label now.\n"


def test_setup_check_names_each_fault_of_a_wedge_scanner():
    typed = setup_check.TEST_LABEL.scan[3:].replace(GS, "").swapcase()
    code, out, _ = run("setup-check", stdin=typed + "\n")
    assert code == 1
    assert out.splitlines() == [
        "Expected: ]d201095201234567881735123110Ww7/:;<=>?_<GS>21Aa9Zz0Ii!\"%&'()*+,-.",
        "Received: 01095201234567881735123110wW7/:;<=>?_21aA9zZ0iI!\"%&'()*+,-.",
        "✗ AIM_MISSING  Turn on the AIM symbology identifier (]d2) in the scanner's settings.",
        "✗ GS_DROPPED  The scanner drops the GS separator between fields: set it to send GS as Ctrl+] (0x1D), or to "
        "replace GS with a character that cannot occur in GS1 data, such as |, and start this program with "
        "--gs-substitute '|'.",
        "✗ CAPS_LOCK  Letters arrive with their case inverted because Caps Lock is on: turn Caps Lock off, or set the "
        "scanner to ignore the Caps Lock state."]


def test_setup_check_accepts_the_substitute_it_is_told_about():
    typed = setup_check.TEST_LABEL.scan.replace(GS, "|")
    assert run("setup-check", "--gs-substitute", "|", stdin=typed + "\n")[0] == 0


def test_setup_check_reads_a_serial_scanner(tmp_path):
    """Through a pyserial ``socket://`` URL: a TCP peer plays the scanner and sends the label with CR LF."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        def scanner() -> None:
            conn, _ = listener.accept()
            with conn:
                time.sleep(0.5)  # pyserial empties the input buffer once connected: scan after that, as a person would
                conn.sendall(setup_check.TEST_LABEL.scan.encode("latin-1") + b"\r\n")
                conn.recv(1)  # hold the line open until the reader is done

        threading.Thread(target=scanner, daemon=True).start()
        port = listener.getsockname()[1]
        code, out, _ = run("setup-check", "--serial", f"socket://127.0.0.1:{port}", "--wait", "5")
    assert (code, out.splitlines()[-1]) == (0, "✓ SETUP_OK  The scanner sends the test label exactly as printed.")


def test_python_dash_m_scanners_runs():
    done = subprocess.run([sys.executable, "-m", "scanners", "setup-check", "--print-label"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.splitlines()[1]) == (0, setup_check.TEST_LABEL.bracket)
