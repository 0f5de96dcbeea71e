"""Files built to hurt: each is refused with a clear message, in bounded memory, list untouched."""

import struct
import tracemalloc
import zipfile

import pytest

from recipients import workbooks
from recipients.errors import FileRejected
from recipients.models import ImportJob, RecipientList
from recipients.readers import open_table
from recipients.services import import_job_create


def refused(path, **kwargs) -> str:
    with pytest.raises(FileRejected) as caught:
        open_table(path, **kwargs)
    return caught.value.message


def write_zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_bomb_disguised_as_xlsx(tmp_path):
    path = tmp_path / "contacts.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            for _ in range(64):
                member.write(b"\0" * (1024 * 1024))  # 64 MB that deflate to ~64 KB
    assert path.stat().st_size < 1024 * 1024
    assert "looks like a zip bomb" in refused(path)


def test_workbook_declaring_too_much_data(tmp_path, monkeypatch):
    monkeypatch.setattr(workbooks, "MAX_XLSX_UNPACKED_BYTES", 1000)
    path = write_zip(tmp_path / "big.xlsx", {"xl/workbook.xml": b"<workbook/>", "xl/sheet.xml": b"<r/>" * 500})
    assert "looks like a zip bomb" in refused(path)


def test_workbook_whose_declared_sizes_lie(tmp_path):
    path = write_zip(tmp_path / "liar.xlsx", {"xl/workbook.xml": b"<workbook/>" + b"x" * 5000})
    data = bytearray(path.read_bytes())
    # Shrink the uncompressed size in the central directory and local header to 10 bytes.
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = struct.pack("<I", 10)
    data[22:26] = struct.pack("<I", 10)
    path.write_bytes(bytes(data))
    assert "looks like a zip bomb" in refused(path)


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 1000)
    assert refused(path) == "The workbook is damaged and can't be read."


def test_zip_that_is_not_a_workbook(tmp_path):
    path = write_zip(tmp_path / "photos.xlsx", {"photo.jpg": b"\xff\xd8\xff" * 100})
    assert "not an Excel workbook" in refused(path)


def test_workbook_with_broken_sheet_xml(tmp_path, write_xlsx):
    good = write_xlsx([["phone"], [380501234567]])
    path = tmp_path / "bad-sheet.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]  # cut off mid-tag
            target.writestr(item, data)
    with pytest.raises(FileRejected, match="damaged"):
        table = open_table(path)
        list(table.rows())


def test_corrupt_xls(tmp_path):
    path = tmp_path / "broken.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00\xff" * 4000)
    assert "is damaged" in refused(path)


@pytest.mark.parametrize("content", [b"", b"   \r\n\r\n  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert refused(path) == "The file is empty."


def test_binary_file_named_csv(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 50)
    assert refused(path) == "The file contains binary data; upload a CSV or Excel file."


def test_binary_without_nul_bytes(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(bytes(range(1, 32)) * 200)
    assert refused(path) == "The file contains binary data; upload a CSV or Excel file."


def test_undecodable_text(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(b"phone,name\n380501234567,\x81\x8d\x8f\x90\x9d\n")  # not UTF-8, not cp1252
    assert "not readable text" in refused(path)


def test_hundred_megabyte_single_cell_is_refused_in_bounded_memory(tmp_path, settings):
    settings.UPLOAD_MAX_BYTES = 200 * 1024 * 1024
    path = tmp_path / "one-cell.csv"
    with open(path, "wb") as fh:
        fh.write(b"phone\n")
        for _ in range(100):
            fh.write(b"7" * (1024 * 1024))
    tracemalloc.start()
    try:
        message = refused(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "line longer than 1,048,576 characters" in message
    assert peak < 32 * 1024 * 1024


def test_quoted_field_spanning_many_lines_hits_the_field_limit(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('phone,note\n380501234567,"' + "a\n" * 100_000 + '"\n', "utf-8")
    table = open_table(path)
    with pytest.raises(FileRejected, match="Row 2 could not be read: field larger than field limit"):
        list(table.rows())


def test_upload_size_limit(write_csv, account, settings):
    settings.UPLOAD_MAX_BYTES = 100
    path = write_csv([["phone"]] + [["380501234567"]] * 20)
    with pytest.raises(FileRejected, match=r"The file is 0\.0 MB; files up to 0\.0 MB are accepted"):
        import_job_create(account=account, upload=path, mapping={"0": "phone_number"}, name="Big")
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"phone,name\r\n", "The file has a header row but no rows of numbers below it."),
        (b"phone\n\n\n,\n", "The file has a header row but no rows of numbers below it."),
    ],
)
def test_header_only_file_fails_the_import_and_creates_no_list(tmp_path, run_import, content, message):
    path = tmp_path / "header.csv"
    path.write_bytes(content)
    job = run_import(path)
    assert (job.status, job.error) == (ImportJob.Status.FAILED, message)
    assert not RecipientList.objects.exists()


def test_hostile_file_found_only_when_the_job_runs_leaves_no_list(tmp_path, account, make_list):
    """The upload check reads only the start of a text file; the full read still refuses it."""
    from recipients.services import recipient_list_import

    recipient_list = make_list(phones=["380501234567"])
    path = tmp_path / "late-binary.csv"
    path.write_bytes(b"phone\n" + b"380501234568\n" * 200_000 + b"\x00\x01\x02")
    job = import_job_create(account=account, upload=path, mapping={"0": "phone_number"}, mode="append",
                            target=recipient_list, enqueue=False)
    job = recipient_list_import(job_id=job.pk)
    assert job.status == ImportJob.Status.FAILED
    assert job.error == "The file contains binary data; upload a CSV or Excel file."
    assert list(recipient_list.recipients.values_list("phone", flat=True)) == ["380501234567"]
