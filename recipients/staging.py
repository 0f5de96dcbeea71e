"""Uploads kept between the import wizard's steps, named by an unguessable token.

The wizard previews the file on upload and again whenever the user picks another sheet or
toggles the header row; each preview reads the whole file (its column flags cover every row,
as MessageWhiz's preview exists to say whether a file fits before importing it), so each is
computed once and kept next to the file. Files of wizards nobody finished are deleted by
`staged_uploads_discard`, run periodically.
"""

import dataclasses
import json
import os
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.move import file_move_safe

from .preview import Preview, preview_file

STAGED_DIR = "imports/staged"
# A wizard left alone this long is abandoned: its file (contact data) goes.
STAGED_MAX_AGE_SECONDS = 24 * 3600


def staged_upload_path(token: str) -> Path | None:
    """Where the upload named `token` is kept; None for a token that can't be one of ours."""
    if len(token) != 32 or not all(ch in "0123456789abcdef" for ch in token):
        return None
    return Path(settings.MEDIA_ROOT) / STAGED_DIR / token


def staged_upload_save(upload) -> str:
    """Keep an uploaded file for the wizard's next steps; returns its token."""
    token = uuid.uuid4().hex
    path = staged_upload_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(upload, "temporary_file_path"):
        file_move_safe(upload.temporary_file_path(), path)  # a large upload is on disk already
    else:
        with open(path, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return token


class StagedUpload(File):
    """A kept upload given to the import (`File(open(path, "rb"), name=…)`): storage moves it into
    place, as it does a large upload's temporary file, instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def staged_upload_preview(token: str, *, sheet: str | None = None, has_header: bool = True) -> Preview:
    """The preview of a kept upload, computed once per sheet and header choice."""
    path = staged_upload_path(token)
    cache = path.with_name(f"{token}.previews.json")
    try:
        previews = json.loads(cache.read_text("utf-8"))
    except (OSError, ValueError):
        previews = {}
    key = json.dumps([sheet or "", has_header])
    if key not in previews:
        previews[key] = dataclasses.asdict(preview_file(path, sheet=sheet, has_header=has_header))
        cache.write_text(json.dumps(previews), "utf-8")
    return Preview(**previews[key])


def staged_upload_discard(token: str) -> None:
    path = staged_upload_path(token)
    if path is not None:
        path.unlink(missing_ok=True)
        path.with_name(f"{token}.previews.json").unlink(missing_ok=True)


def staged_uploads_discard(*, max_age: float = STAGED_MAX_AGE_SECONDS) -> int:
    """Delete kept uploads (and their previews) older than `max_age` seconds; returns how many files."""
    folder = Path(settings.MEDIA_ROOT) / STAGED_DIR
    cutoff = time.time() - max_age
    removed = 0
    for entry in os.scandir(folder) if folder.is_dir() else ():
        if entry.is_file() and entry.stat().st_mtime < cutoff:
            Path(entry.path).unlink(missing_ok=True)
            removed += 1
    return removed
