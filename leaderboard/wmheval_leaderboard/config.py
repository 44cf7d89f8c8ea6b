"""``challenge.toml``: the challenge's settings and its phases (read with ``tomllib``,
written by a small TOML writer of our own, so no dependency is added).

Every key is documented in ``leaderboard/README.md`` ("challenge.toml"). The file is the
organiser's: the board reads it on every command, and the ledger records a hash of it in the
event of each submission, so a board can always say under which settings it was computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wmheval import vocabulary as vocab
from wmheval_leaderboard.errors import BoardUsageError

CONFIG_NAME = "challenge.toml"
WINDOWS = vocab.BOARD_WINDOWS
PER_CASE = vocab.BOARD_PER_CASE
BOARD_VISIBILITY = vocab.BOARD_VISIBILITY
SUBJECT_SETS = ("all", "training", "test")
ENTRY_RULES = vocab.BOARD_ENTRY_RULES
"""Which submission stands for a team: ``latest`` (its latest scored submission) or
``selected`` (its latest selected scored submission, else its latest scored one)."""


@dataclass(frozen=True)
class ArchiveCaps:
    """Caps on one submitted archive (sized for the WMH grids: 110 subjects of at most
    ~51 MB raw float64 NIfTI each)."""

    max_members: int = 2 * 170 + 32
    max_member_mb: int = 64
    max_total_mb: int = 4096
    max_archive_mb: int = 512


@dataclass(frozen=True)
class Phase:
    """One phase of the challenge (``[[phases]]`` in ``challenge.toml``)."""

    name: str = "test"
    subjects: str | tuple[str, ...] = "all"
    limit: int | None = 5
    window: str = "24h"
    per_case: str = "hidden"
    board: str = "public"
    opens: str = ""
    closes: str = ""
    entry: str = "latest"
    after: str = ""
    caps: ArchiveCaps = field(default_factory=ArchiveCaps)

    @property
    def window_seconds(self) -> int | None:
        """The quota window in seconds; None for ``total`` (the whole phase)."""
        return window_seconds(self.window)


@dataclass(frozen=True)
class Challenge:
    """``[challenge]``: name, reference, scoring policy, isolation limits; and the phases."""

    name: str
    reference: str
    phases: tuple[Phase, ...]
    missing: str = "empty"
    undefined: str = "fixed"
    baselines_in_normalisation: bool = False
    bootstrap: int = 1000
    time_limit_s: int = 900
    memory_limit_mb: int = 4096
    created: str = ""

    def phase(self, name: str | None) -> Phase:
        """The phase called ``name`` (None: the only or first phase)."""
        if name is None:
            return self.phases[0]
        for phase in self.phases:
            if phase.name == name:
                return phase
        known = ", ".join(p.name for p in self.phases)
        raise BoardUsageError(f"no phase {name!r} in this challenge (phases: {known})")

    def digest(self) -> str:
        """SHA-256 of the settings (canonical JSON): recorded with every submission."""
        text = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()


def window_seconds(window: str) -> int | None:
    """Seconds of ``24h``/``7d``-style windows (any ``<n>h`` or ``<n>d``); None for
    ``total``."""
    if window == "total":
        return None
    match = re.fullmatch(r"([1-9][0-9]{0,4})([hd])", window or "")
    if not match:
        raise BoardUsageError(f"window must be 24h, 7d, total (or <n>h, <n>d), got {window!r}")
    return int(match.group(1)) * (3600 if match.group(2) == "h" else 86400)


def parse_time(text: str, what: str) -> datetime | None:
    """An ISO-8601 time (UTC when no offset is given); empty: None."""
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BoardUsageError(f"{what}: not an ISO-8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _phase_from_table(table: dict, where: str) -> Phase:
    known = {f for f in Phase.__dataclass_fields__ if f != "caps"} | set(
        ArchiveCaps.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        raise BoardUsageError(f"{where}: unknown key(s) {', '.join(unknown)}")
    caps = ArchiveCaps(**{k: int(table[k]) for k in ArchiveCaps.__dataclass_fields__
                          if k in table})
    values = {k: table[k] for k in Phase.__dataclass_fields__ if k in table and k != "caps"}
    subjects = values.get("subjects", "all")
    if isinstance(subjects, list):
        values["subjects"] = tuple(str(s) for s in subjects)
    elif subjects not in SUBJECT_SETS:
        raise BoardUsageError(f"{where}: subjects must be all, training, test or a list of "
                              f"ids, got {subjects!r}")
    limit = values.get("limit", 5)
    values["limit"] = None if limit in (0, None) else int(limit)
    phase = Phase(caps=caps, **values)
    window_seconds(phase.window)
    for key, allowed in (("per_case", PER_CASE), ("board", BOARD_VISIBILITY),
                         ("entry", ENTRY_RULES)):
        if getattr(phase, key) not in allowed:
            raise BoardUsageError(f"{where}: {key} must be one of {', '.join(allowed)}, got "
                                  f"{getattr(phase, key)!r}")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", phase.name):
        raise BoardUsageError(f"{where}: phase name {phase.name!r} must be letters, digits, "
                              "'_', '.', '-' (at most 64)")
    parse_time(phase.opens, f"{where}: opens")
    parse_time(phase.closes, f"{where}: closes")
    return phase


def read_config(folder: str | Path) -> Challenge:
    """Read and check ``folder/challenge.toml`` (a BoardUsageError names the problem)."""
    path = Path(folder) / CONFIG_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BoardUsageError(f"{folder}: no board here ({CONFIG_NAME} not found; run "
                              "'wmheval board init' first)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise BoardUsageError(f"{path}: cannot read: {error}") from None
    return parse_config(text, where=str(path), default_name=Path(folder).name)


def parse_config(text: str, *, where: str = CONFIG_NAME, default_name: str = "") -> Challenge:
    """Check the text of a ``challenge.toml`` (``where`` names it in errors): the settings
    now (:func:`read_config`) or those a ledger event recorded (a past board's)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise BoardUsageError(f"{where}: cannot read: {error}") from None
    path = where
    head = data.get("challenge")
    if not isinstance(head, dict) or "reference" not in head:
        raise BoardUsageError(f"{path}: needs a [challenge] table with a reference")
    phases = data.get("phases") or [{}]
    parsed = tuple(_phase_from_table(t, f"{path} [[phases]] #{k + 1}")
                   for k, t in enumerate(phases))
    names = [p.name for p in parsed]
    if len(set(names)) != len(names):
        raise BoardUsageError(f"{path}: two phases share a name")
    for k, phase in enumerate(parsed):
        if phase.after and phase.after not in names[:k]:
            raise BoardUsageError(f"{path}: phase {phase.name}: after = {phase.after!r} must "
                                  "name a phase listed before it")
    fields = {k: head[k] for k in Challenge.__dataclass_fields__
              if k in head and k != "phases"}
    unknown = sorted(set(head) - set(Challenge.__dataclass_fields__))
    if unknown:
        raise BoardUsageError(f"{path}: unknown key(s) in [challenge]: {', '.join(unknown)}")
    fields.setdefault("name", default_name)
    return Challenge(phases=parsed, **fields)


# ---------------------------------------------------------------- the writer


def toml_value(value) -> str:
    """One TOML value: strings as basic strings (JSON escapes are TOML escapes; DEL is
    escaped too), booleans, integers, floats, and arrays of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("TOML has no place for NaN or infinity here")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _table_lines(values: dict, comments: dict[str, str]) -> list[str]:
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        comment = comments.get(key)
        suffix = f"  # {comment}" if comment else ""
        lines.append(f"{key} = {toml_value(value)}{suffix}")
    return lines


PHASE_COMMENTS = {
    "subjects": "all, training, test, or a list of subject ids",
    "limit": "submissions per team per window (0: no limit)",
    "window": "24h, 7d or total",
    "per_case": "public, own or hidden (hidden: no subject id or per-case value in public)",
    "board": "public, private or after_close",
    "opens": "ISO-8601 time, empty: open now",
    "closes": "ISO-8601 time, empty: never",
    "entry": "which submission stands for a team: latest or selected",
    "after": "a phase a team must have a scored submission in first (empty: none)",
}


def config_text(challenge: Challenge) -> str:
    """``challenge.toml`` for ``challenge`` (round-trips through :func:`read_config`)."""
    head = {k: getattr(challenge, k) for k in Challenge.__dataclass_fields__ if k != "phases"}
    lines = ["# wmheval board settings; every key is described in leaderboard/README.md",
             "[challenge]"]
    lines += _table_lines(head, {
        "missing": "missing cases: empty, worst or exclude",
        "undefined": "undefined values: fixed, worst or exclude",
        "baselines_in_normalisation": "baselines count in the min-max bounds",
        "bootstrap": "default bootstrap resamples of 'build'",
        "time_limit_s": "wall-clock limit of one scoring run",
        "memory_limit_mb": "address-space limit of the scoring process",
    })
    for phase in challenge.phases:
        values = {k: getattr(phase, k) for k in Phase.__dataclass_fields__ if k != "caps"}
        values["limit"] = phase.limit or 0
        values.update(asdict(phase.caps))
        lines += ["", "[[phases]]"] + _table_lines(values, PHASE_COMMENTS)
    return "\n".join(lines) + "\n"


class SimulatedClock:
    """The board's clock while a challenge is replayed (:func:`simulated_clock`): it stands
    at a chosen moment, moves only when told (:meth:`advance`, :meth:`set`), and ticks one
    millisecond per reading so that the events it stamps keep their order."""

    def __init__(self, start: datetime, tick: timedelta = timedelta(milliseconds=1)):
        self.moment = start.astimezone(UTC)
        self.tick = tick

    def read(self) -> datetime:
        moment = self.moment
        self.moment += self.tick
        return moment

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta``; returns the new moment."""
        if delta < timedelta(0):
            raise ValueError("a simulated clock only moves forward")
        self.moment += delta
        return self.moment

    def set(self, moment: datetime) -> datetime:
        """Move the clock forward to ``moment`` (UTC when naive)."""
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return self.advance(moment.astimezone(UTC) - self.moment)


_CLOCK: SimulatedClock | None = None


@contextlib.contextmanager
def simulated_clock(start: datetime) -> Iterator[SimulatedClock]:
    """Within the block, every time the board records (submissions, events, snapshots,
    windows and phase openings) comes from a :class:`SimulatedClock` starting at ``start``:
    how the demo replays a few submission days in seconds, and how tests script a
    challenge's life. Only this process is affected (scoring workers record no time)."""
    global _CLOCK
    previous, _CLOCK = _CLOCK, SimulatedClock(start if start.tzinfo else
                                              start.replace(tzinfo=UTC))
    try:
        yield _CLOCK
    finally:
        _CLOCK = previous


def now_utc() -> datetime:
    """The current time in UTC (the simulated one inside :func:`simulated_clock`)."""
    return _CLOCK.read() if _CLOCK is not None else datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with microseconds and a Z: sorts as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
