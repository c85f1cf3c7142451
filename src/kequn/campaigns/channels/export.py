"""List export 名单导出: the file a shop uploads to its platform's poster, push or SMS tool.

One row per recipient with the coupon code, written as the send goes (CSV, flushed per row) so
a killed send loses nothing already recorded; an Excel copy is rebuilt from the CSV when the
send closes. Contact columns are masked unless the campaign explicitly asks to reveal them
(SPEC §6), because most platform tools match on the customer id.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path
from typing import IO, Literal

from pydantic import BaseModel, ConfigDict

from kequn.campaigns.channels.base import Message
from kequn.campaigns.errors import ChannelError
from kequn.campaigns.messages import mask_contact
from kequn.campaigns.settings import CampaignSettings

__all__ = ["ExportChannel", "ExportOptions"]

COLUMNS = ("idem_key", "customer_id", "contact", "coupon_code", "coupon", "deadline",
           "language", "subject", "message")


class ExportOptions(BaseModel):
    """How the list is written."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "xlsx"] = "csv"
    directory: str | None = None
    """Where the file goes (None: the export_dir setting); relative to the workspace file."""
    contact: Literal["phone", "email"] | None = None
    """Include this contact column (recipients without it are skipped)."""
    reveal_contact: bool = False
    """Write the contact unmasked (for an SMS tool that needs the numbers)."""


class ExportChannel:
    """Writes recipients to ``<directory>/<target>.csv`` (and ``.xlsx``)."""

    name = "export"
    idempotent = True  # rows carry the idempotency key; the file is de-duplicated on close

    def __init__(self, settings: CampaignSettings, options: dict[str, object], *,
                 target: str, base_dir: Path | None = None) -> None:
        self.options = ExportOptions(**options)
        self.contact_field: str | None = self.options.contact
        directory = Path(self.options.directory or settings.export_dir)
        if not directory.is_absolute() and base_dir is not None:
            directory = base_dir / directory  # beside the workspace file, not the cwd
        safe = re.sub(r"[^\w.-]+", "_", target)
        self.csv_path = directory / f"{safe}.csv"
        self.path = self.csv_path.with_suffix(f".{self.options.format}")
        self._file: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def open(self) -> None:
        """Open the CSV for appending (a resumed send adds to the same file)."""
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        try:
            self._file = self.csv_path.open("a", encoding="utf-8-sig" if fresh else "utf-8",
                                            newline="")
        except OSError as exc:
            msg = f"cannot write the export file {self.csv_path}: {exc.strerror}"
            raise ChannelError(msg, abort=True) from None
        self._writer = csv.DictWriter(self._file, fieldnames=COLUMNS)
        if fresh:
            self._writer.writeheader()

    def deliver(self, message: Message) -> None:
        """Append one row and flush it to the operating system."""
        if self._writer is None or self._file is None:
            self.open()
        if self._writer is None or self._file is None:  # pragma: no cover - open() raised
            return
        contact = message.contact
        if contact is not None and not self.options.reveal_contact:
            contact = mask_contact(contact)
        self._writer.writerow({
            "idem_key": message.idem_key, "customer_id": message.customer_id,
            "contact": contact or "", "coupon_code": message.coupon_code or "",
            "coupon": message.fields.get("coupon", ""),
            "deadline": message.fields.get("deadline", ""), "language": message.language,
            "subject": message.subject, "message": message.body,
        })
        self._file.flush()

    def close(self) -> None:
        """Close the CSV, drop repeated rows (an in-doubt row resent) and write the Excel copy."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None
        if not self.csv_path.exists():
            return
        rows = _dedupe(self.csv_path)
        if self.options.format == "xlsx":
            _write_xlsx(self.path, rows)

    def __repr__(self) -> str:
        return f"ExportChannel(path={str(self.path)!r})"


def _dedupe(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row["idem_key"] not in seen:
            seen.add(row["idem_key"])
            unique.append(row)
    if len(unique) < len(rows):
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(unique)
        os.replace(tmp, path)
    return unique


def _write_xlsx(path: Path, rows: list[dict[str, str]]) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("recipients")
    sheet.append(list(COLUMNS))
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    tmp = path.with_suffix(".tmp.xlsx")
    book.save(tmp)
    os.replace(tmp, path)
