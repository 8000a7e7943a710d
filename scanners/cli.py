"""``python -m scanners``: verify scans at the counter, one line per verdict.

Exit status: 0 every scan verified and none alerting; 1 at least one alerting verdict; 2 a usage
or input error; 3 some scans not verified (kept in the offline queue, or refused by the server).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from scanners import __version__
from scanners.adapters import TERMINATORS, AdapterError, KeyboardWedge, SerialScanner, WatchedFolder, image_files
from scanners.client import ApiError, ServerUnavailable, Submission, VerificationResult, VerifyClient, results_of
from scanners.queue import Failed, OfflineQueue, Queued, default_path
from scanners.scans import PhotoScan, RawScan, printable
from scanners.setup_check import diagnose, test_label_data

EXIT_OK, EXIT_ALERT, EXIT_USAGE, EXIT_UNVERIFIED = 0, 1, 2, 3
MARKS = {"ok": "✓", "warn": "!", "alert": "✗", "queued": "…", "error": "✗"}
ASCII_MARKS = {"ok": "+", "warn": "!", "alert": "x", "queued": "~", "error": "x"}
SEPARATOR, ASCII_SEPARATOR = " · ", " | "
COLOURS = {"ok": "32", "warn": "33", "alert": "1;31", "queued": "36", "error": "31"}


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- one line per verdict


def kind_of(result: VerificationResult) -> str:
    if result.alert:
        return "alert"
    return "ok" if result.verdict == "OK" else "warn"


class Printer:
    """Writes the lines; a coloured mark and code only when ``out`` is a terminal (and NO_COLOR is unset)."""

    def __init__(self, out: TextIO, *, color: bool = False) -> None:
        self.out = out
        self.color = color
        try:
            ("".join(MARKS.values()) + SEPARATOR).encode(getattr(out, "encoding", None) or "utf-8")
            self.marks, self.separator = MARKS, SEPARATOR
        except (UnicodeEncodeError, LookupError):
            self.marks, self.separator = ASCII_MARKS, ASCII_SEPARATOR

    def _head(self, kind: str, code: str) -> str:
        head = f"{self.marks[kind]} {code}"
        return f"\x1b[{COLOURS[kind]}m{head}\x1b[0m" if self.color else head

    def line(self, kind: str, code: str, details: Iterable[str]) -> None:
        print(f"{self._head(kind, code)}  {self.separator.join(d for d in details if d)}", file=self.out, flush=True)

    def result(self, result: VerificationResult, label: str, note: str = "") -> None:
        self.line(kind_of(result), result.verdict, result_details(result, label, note))

    def queued(self, label: str, waiting: int) -> None:
        self.line("queued", "QUEUED", [printable(label),
                                       f"the server is unavailable; kept in the offline queue ({waiting} waiting)"])

    def error(self, label: str, error: ApiError) -> None:
        self.line("error", f"ERROR {error.code}", [printable(label), error.detail])

    def no_code(self, label: str) -> None:
        self.line("warn", "NO_CODE", [printable(label), "no code was found in the image"])


def result_details(result: VerificationResult, label: str, note: str = "") -> list[str]:
    """Product (or what was scanned), batch, expiry, the findings, the repairs, the alert, a note."""
    gtin = result.scan.get("gtin")
    what = result.product_name or (f"GTIN {gtin}" if gtin else printable(result.scan.get("raw") or label))
    details = [what, f"batch {result.batch}" if result.batch else "",
               f"expiry {result.expiry}" if result.expiry else ""]
    details += [f.message for f in result.findings]
    if result.repairs:
        details.append("repaired: " + "; ".join(r.message for r in result.repairs))
    if result.alert:
        details.append(f"alert #{result.alert_id}" if result.alert_id is not None else "alert raised")
    return [*details, note]


# ---------------------------------------------------------------- the counter


class Counter:
    """Sends each scan; keeps it in the offline queue when the server is away; replays the queue when it is back."""

    def __init__(self, client: VerifyClient, queue: OfflineQueue, printer: Printer) -> None:
        self.client, self.queue, self.printer = client, queue, printer
        self.alerts = self.unverified = 0
        self.offline = False  # while the server is known to be away, a scan is queued without waiting for retries

    @property
    def status(self) -> int:
        if self.alerts:
            return EXIT_ALERT
        return EXIT_UNVERIFIED if self.unverified else EXIT_OK

    def _show(self, submission: Submission, results: list[VerificationResult], note: str = "") -> None:
        if not results:
            self.printer.no_code(submission.label)
            self.unverified += 1
        for result in results:
            self.printer.result(result, submission.label, note)
            self.alerts += result.alert

    def handle(self, submission: Submission) -> None:
        try:
            reply = self.client.send(submission, retries=0 if self.offline else None)
        except ApiError as exc:
            self.printer.error(submission.label, exc)
            self.unverified += 1
            return
        except ServerUnavailable:
            self.queue.put(submission)
            self.printer.queued(submission.label, len(self.queue))
            self.unverified += 1
            self.offline = True
            return
        self.offline = False
        self._show(submission, results_of(submission, reply))
        if len(self.queue):
            self.replay()

    def replay(self) -> int:
        """Send what the queue holds; returns how many scans are still waiting."""

        def sent(item: Queued, reply) -> None:
            note = f"from the offline queue, queued {item.queued_at[:19].replace('T', ' ')} UTC"
            self._show(item.submission, results_of(item.submission, reply),
                       note + (" (already counted)" if reply.replayed else ""))

        def failed(item: Failed) -> None:
            self.printer.error(item.queued.submission.label, ApiError(item.status, item.code, item.detail))

        report = self.queue.replay(self.client, on_sent=sent, on_failed=failed)
        self.unverified += len(report.failed)
        return report.remaining

    def run(self, submissions: Iterable[Submission]) -> int:
        for submission in submissions:
            self.handle(submission)
        return self.status


# ---------------------------------------------------------------- commands


def _client(args, env: Mapping[str, str]) -> VerifyClient:
    server = getattr(args, "server", None) or env.get("PHARMA_SERVER")
    token = getattr(args, "token", None) or env.get("PHARMA_TOKEN")
    if not server:
        raise UsageError("No server: give --server URL or set PHARMA_SERVER.")
    if not token:
        raise UsageError("No API token: give --token TOKEN or set PHARMA_TOKEN.")
    return VerifyClient(server, token, getattr(args, "location", None) or env.get("PHARMA_LOCATION"),
                        timeout=getattr(args, "timeout", 10.0), retries=getattr(args, "retries", 3))


def _queue(args, env: Mapping[str, str]) -> OfflineQueue:
    return OfflineQueue(getattr(args, "queue", None) or env.get("PHARMA_SCANNER_QUEUE") or default_path())


def _substitutes(args) -> tuple[str, ...]:
    return tuple(getattr(args, "gs_substitute", None) or ())


def _raw_submissions(client: VerifyClient, scans: Iterable[RawScan]) -> Iterable[Submission]:
    return (client.scan_submission(s) for s in scans)


def _photo_submissions(client: VerifyClient, photos: Iterable[PhotoScan]) -> Iterable[Submission]:
    return (client.photo_submission(p) for p in photos)


def _source(args, io, client: VerifyClient) -> Iterable[Submission]:
    """The submissions of a scanning command."""
    if args.command == "wedge":
        if io.stdin.isatty():
            print("Scan packs; Ctrl+D ends.", file=io.stderr)
        return _raw_submissions(client, KeyboardWedge(io.stdin, gs_substitutes=_substitutes(args)))
    if args.command == "serial":
        port = SerialScanner(args.url, baudrate=args.baudrate, terminator=TERMINATORS[args.terminator])
        return _raw_submissions(client, port)
    if args.command == "files":
        return _photo_submissions(client, image_files(args.paths))
    folder = Path(args.dir)
    processed = None if args.remember else Path(args.processed or folder / "processed")
    watched = WatchedFolder(folder, processed=processed, poll_interval=args.interval, timeout=args.stop_after,
                            rejected=lambda path, why: print(why, file=io.stderr))
    return _photo_submissions(client, watched)


def cmd_scan(args, io) -> int:
    client = _client(args, io.env)
    submissions = _source(args, io, client)
    with _queue(args, io.env) as queue:
        counter = Counter(client, queue, io.printer)
        try:
            return counter.run(submissions)
        except KeyboardInterrupt:
            return counter.status


def cmd_replay(args, io) -> int:
    client = _client(args, io.env)
    with _queue(args, io.env) as queue:
        counter = Counter(client, queue, io.printer)
        waiting = len(queue)
        remaining = counter.replay()
        print(f"Replayed {waiting - remaining} of {waiting} queued scans; {remaining} still waiting.", file=io.stdout)
        counter.unverified += remaining
        return counter.status


def cmd_setup_check(args, io) -> int:
    label = test_label_data()
    if args.print_label:
        print("Print this as a square GS1 Data Matrix (bracket syntax):", file=io.stdout)
        print(label.bracket, file=io.stdout)
        print("A correctly set up scanner sends (<GS> is the GS character, 0x1D):", file=io.stdout)
        print(printable(label.scan), file=io.stdout)
        return EXIT_OK
    if args.serial:
        with SerialScanner(args.serial, baudrate=args.baudrate, idle_limit=args.wait) as port:
            received: str | bytes = next((s.data or b"" for s in port), b"")
    else:
        print("Scan the scanner test label now.", file=io.stderr)
        line = io.stdin.readline()
        received = line[:-1] if line.endswith("\n") else line
    findings = diagnose(received, gs_substitutes=_substitutes(args))
    print(f"Expected: {printable(label.scan)}", file=io.stdout)
    print(f"Received: {printable(received)}", file=io.stdout)
    if not findings:
        io.printer.line("ok", "SETUP_OK", ["The scanner sends the test label exactly as printed."])
        return EXIT_OK
    for finding in findings:
        io.printer.line("alert", finding.code, [finding.message])
    return EXIT_ALERT


# ---------------------------------------------------------------- arguments


def _common() -> argparse.ArgumentParser:
    """Options accepted before or after the command (SUPPRESS keeps a value given in either place)."""
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--server", help="the pharma server, e.g. https://pharma.example (env PHARMA_SERVER)")
    common.add_argument("--token", help="an API token of a pharmacist or a cash register (env PHARMA_TOKEN)")
    common.add_argument("--location", metavar="GLN", help="the scanning location's GLN (env PHARMA_LOCATION)")
    common.add_argument("--gs-substitute", action="append", metavar="TEXT",
                        help="what the scanner sends instead of GS, e.g. '|' (repeatable)")
    common.add_argument("--queue", metavar="PATH",
                        help=f"the offline queue file (env PHARMA_SCANNER_QUEUE; default {default_path()})")
    common.add_argument("--timeout", type=float, metavar="SECONDS", help="per request (default 10)")
    common.add_argument("--retries", type=int, metavar="N", help="retries of a failed request (default 3)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="python -m scanners", parents=[common],
                                     description="Verify medicine packs at the counter.")
    parser.add_argument("--version", action="version", version=f"pharma-scanners {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("wedge", parents=[common], help="read scans typed by a keyboard-wedge scanner on stdin")
    serial = commands.add_parser("serial", parents=[common], help="read a serial / virtual COM port scanner")
    serial.add_argument("url", help="the port: /dev/ttyACM0, COM3, or any pyserial URL")
    serial.add_argument("--baudrate", type=int, default=9600)
    serial.add_argument("--terminator", choices=sorted(TERMINATORS), default="CRLF",
                        help="what ends a scan (CRLF: either CR or LF; NONE: a pause)")
    files = commands.add_parser("files", parents=[common], help="verify every code in PNG or JPEG photos")
    files.add_argument("paths", nargs="+", metavar="PATH")
    watch = commands.add_parser("watch", parents=[common], help="verify photos as they appear in a folder")
    watch.add_argument("dir", metavar="DIR")
    watch.add_argument("--processed", metavar="DIR", help="where handled photos go (default DIR/processed)")
    watch.add_argument("--remember", action="store_true", help="leave handled photos in place")
    watch.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="polling interval")
    watch.add_argument("--stop-after", type=float, metavar="SECONDS", help="stop watching after this long")
    commands.add_parser("replay", parents=[common], help="send the scans kept in the offline queue")
    check = commands.add_parser("setup-check", parents=[common], help="check the scanner setup with the test label")
    check.add_argument("--print-label", action="store_true", help="show the test label's data, to print it")
    check.add_argument("--serial", metavar="URL", help="read the test scan from this serial port instead of stdin")
    check.add_argument("--baudrate", type=int, default=9600)
    check.add_argument("--wait", type=float, default=60.0, metavar="SECONDS", help="how long to wait for a scan")
    return parser


class IO:
    def __init__(self, stdin: TextIO, stdout: TextIO, stderr: TextIO, env: Mapping[str, str]) -> None:
        self.stdin, self.stdout, self.stderr, self.env = stdin, stdout, stderr, env
        tty = getattr(stdout, "isatty", lambda: False)()
        self.printer = Printer(stdout, color=tty and "NO_COLOR" not in env)


COMMANDS = {"wedge": cmd_scan, "serial": cmd_scan, "files": cmd_scan, "watch": cmd_scan,
            "replay": cmd_replay, "setup-check": cmd_setup_check}


def main(argv: list[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None, env: Mapping[str, str] | None = None) -> int:
    io = IO(stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr, os.environ if env is None else env)
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, io)
    except (UsageError, AdapterError) as exc:
        print(f"python -m scanners: {exc}", file=io.stderr)
        return EXIT_USAGE
