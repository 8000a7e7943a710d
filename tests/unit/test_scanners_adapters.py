"""The scanners adapters: keyboard wedge, serial port (pyserial ``loop://``), image files, watched folder."""

from __future__ import annotations

import io
import os
import threading

import pytest

from scanners.adapters import (
    AdapterError,
    KeyboardWedge,
    NotAnImage,
    SerialScanner,
    WatchedFolder,
    check_gs_substitute,
    image_files,
)
from scanners.scans import GS, printable

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 16
BODY = "0104601234567893172705311012345"


# ---------------------------------------------------------------- keyboard wedge


def test_the_wedge_turns_each_line_into_a_scan_and_restores_gs():
    lines = io.StringIO(
        f"]d2{BODY}{GS}21S1\n"      # Ctrl+]: the GS character itself
        f"]d2{BODY}^]21S2\r\n"      # a terminal's echo of Ctrl+], and a CR LF line end
        f"{BODY}|21S3\n"            # no AIM prefix; GS mapped to | in the scanner
        "\n   \n"                   # blank lines are no scans
        f"{BODY}~21S4")             # the last line without a line end
    scans = list(KeyboardWedge(lines, gs_substitutes=["|", "~"]))
    assert [(s.text, s.data, s.symbology, s.source) for s in scans] == [
        (f"]d2{BODY}{GS}21S1", None, "]d2", "wedge"),
        (f"]d2{BODY}{GS}21S2", None, "]d2", "wedge"),
        (f"{BODY}{GS}21S3", None, None, "wedge"),
        (f"{BODY}{GS}21S4", None, None, "wedge"),
    ]
    assert len({s.key for s in scans}) == 4


def test_a_gs_substitute_that_can_occur_in_gs1_data_is_refused():
    with pytest.raises(AdapterError) as caught:
        KeyboardWedge(io.StringIO(""), gs_substitutes=["?"])
    assert str(caught.value) == ("--gs-substitute '?' cannot be told apart from the data: use a character outside "
                                 "the GS1 character set, such as | or ~")
    assert check_gs_substitute("{GS}") == "{GS}"  # "{" cannot occur in GS1 data, so neither can "{GS}"
    with pytest.raises(AdapterError):
        check_gs_substitute("]")  # would eat the AIM prefix


def test_printable_shows_the_separator_and_control_characters():
    assert printable(f"01{GS}21\r\x7f") == "01<GS>21<CR><0x7F>"


# ---------------------------------------------------------------- serial port


def test_serial_frames_end_at_cr_or_lf_and_keep_gs_as_a_byte():
    with SerialScanner("loop://", timeout=0.02, idle_limit=0.1) as scanner:
        scanner.port.write(b"]d2" + BODY.encode() + b"\x1d21S1\r\n" + BODY.encode() + b"\x1d21S2\r")
        scans = list(scanner)
    assert [(s.text, s.data, s.symbology, s.source) for s in scans] == [
        (None, b"]d2" + BODY.encode() + b"\x1d21S1", "]d2", "serial:loop://"),
        (None, BODY.encode() + b"\x1d21S2", None, "serial:loop://"),
    ]
    assert scans[0].raw == f"]d2{BODY}{GS}21S1"


def test_a_scanner_that_sends_no_terminator_is_read_frame_by_pause():
    with SerialScanner("loop://", timeout=0.05, terminator=b"", idle_limit=0.2) as scanner:
        scanner.port.write(b"0104601234567893\x1d21S1")
        assert [s.data for s in scanner] == [b"0104601234567893\x1d21S1"]


def test_reading_stops_when_told():
    stop = threading.Event()
    with SerialScanner("loop://", timeout=0.02, stop=stop) as scanner:
        scanner.port.write(b"A1\nA2\n")
        frames = []
        for scan in scanner:
            frames.append(scan.data)
            stop.set()
    assert frames == [b"A1", b"A2"]  # the frames already read are still delivered


def test_a_port_that_cannot_be_opened_is_an_adapter_error(tmp_path):
    with pytest.raises(AdapterError, match=r"^/nonexistent/ttyACM9: "):
        SerialScanner("/nonexistent/ttyACM9")


# ---------------------------------------------------------------- image files


def test_image_files_are_read_as_photos(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "b.jpg").write_bytes(JPEG)
    photos = list(image_files([tmp_path / "a.png", tmp_path / "b.jpg"]))
    assert [(p.path.name, p.content) for p in photos] == [("a.png", PNG), ("b.jpg", JPEG)]
    assert photos[0].source == f"file:{tmp_path / 'a.png'}"


def test_a_batch_with_a_file_that_is_not_an_image_yields_nothing(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(NotAnImage) as caught:
        next(image_files([tmp_path / "a.png", tmp_path / "notes.png"]))
    assert str(caught.value) == f"{tmp_path / 'notes.png'}: not a PNG or JPEG image"


def test_a_missing_file_is_an_adapter_error(tmp_path):
    with pytest.raises(AdapterError) as caught:
        next(image_files([tmp_path / "gone.png"]))
    assert str(caught.value) == f"{tmp_path / 'gone.png'}: No such file or directory"


# ---------------------------------------------------------------- watched folder


def _age(path, seconds: int = 10) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - seconds * 10**9))


def test_the_watched_folder_yields_each_new_image_once_and_moves_it_when_handled(tmp_path):
    inbox, done = tmp_path / "inbox", tmp_path / "inbox" / "processed"
    inbox.mkdir()
    (inbox / "first.png").write_bytes(PNG)
    _age(inbox / "first.png")
    (inbox / "second.JPG").write_bytes(JPEG)
    (inbox / "readme.txt").write_text("ignored")
    (inbox / ".hidden.png").write_bytes(PNG)
    watched = iter(WatchedFolder(inbox, processed=done, poll_interval=0.01, timeout=0.5))
    assert next(watched).path.name == "first.png"  # oldest first
    assert next(watched).path.name == "second.JPG"
    assert (done / "first.png").exists() and (inbox / "second.JPG").exists()  # moved once handled
    (inbox / "third.jpeg").write_bytes(JPEG)
    assert [p.path.name for p in watched] == ["third.jpeg"]
    assert sorted(p.name for p in done.iterdir()) == ["first.png", "second.JPG", "third.jpeg"]
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.png", "processed", "readme.txt"]


def test_without_a_processed_folder_handled_images_are_remembered(tmp_path):
    (tmp_path / "a.png").write_bytes(PNG)
    watched = iter(WatchedFolder(tmp_path, poll_interval=0.01, timeout=0.3))
    assert next(watched).path.name == "a.png"
    (tmp_path / "b.png").write_bytes(PNG)
    assert [p.path.name for p in watched] == ["b.png"]
    assert (tmp_path / "a.png").exists()


def test_a_handled_name_already_in_the_processed_folder_is_not_overwritten(tmp_path):
    done = tmp_path / "done"
    done.mkdir()
    (done / "a.png").write_bytes(b"earlier")
    (tmp_path / "a.png").write_bytes(PNG)
    assert [p.path.name for p in WatchedFolder(tmp_path, processed=done, poll_interval=0.01, timeout=0.1)] == ["a.png"]
    assert ((done / "a.png").read_bytes(), (done / "a-1.png").read_bytes()) == (b"earlier", PNG)


def test_a_file_named_as_an_image_that_is_not_one_is_rejected_and_set_aside(tmp_path):
    (tmp_path / "broken.png").write_text("half a picture")
    rejected = []
    photos = list(WatchedFolder(tmp_path, processed=tmp_path / "done", poll_interval=0.01, timeout=0.1,
                                rejected=lambda path, why: rejected.append(why)))
    assert photos == []
    assert rejected == [f"{tmp_path / 'broken.png'}: not a PNG or JPEG image"]
    assert (tmp_path / "done" / "broken.png").exists()


def test_a_file_still_growing_waits_until_its_size_settles(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(PNG[:8])
    polls = {"n": 0}

    def stop() -> bool:  # the writer appends on the first two polls
        polls["n"] += 1
        if polls["n"] <= 2:
            with path.open("ab") as f:
                f.write(b"\x00" * 8)
        return polls["n"] > 6

    photos = list(WatchedFolder(tmp_path, poll_interval=0.01, stop=stop))
    assert [len(p.content) for p in photos] == [24]


def test_watching_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(AdapterError) as caught:
        WatchedFolder(tmp_path / "nope")
    assert str(caught.value) == f"{tmp_path / 'nope'}: not a folder"
