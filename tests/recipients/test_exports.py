"""Downloads: MessageWhiz's CSV form and XLSX, streamed, with formula injection neutralised."""

import codecs
import io

from openpyxl import load_workbook

from recipients.exports import (
    recipient_list_export_csv,
    recipient_list_export_xlsx,
    unsubscribe_list_export_csv,
    unsubscribe_list_export_xlsx,
)
from recipients.models import Recipient


def text_of(chunks) -> str:
    """A CSV download as Excel reads it: it must start with the UTF-8 byte order mark."""
    body = b"".join(chunks)
    assert body.startswith(codecs.BOM_UTF8)
    return body.decode("utf-8-sig")


HOSTILE = ['=HYPERLINK("http://evil.example","Click")', "+1+1", "@SUM(A1:A2)", "-2+3", "\tTab", "\rCR"]


def test_csv_in_messagewhiz_form_with_only_used_columns(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.bulk_create([
        Recipient(recipient_list=recipient_list, phone="6593333311", first_name="Anthony"),
        Recipient(recipient_list=recipient_list, phone="6593333322", first_name="Bob"),
    ])
    body = text_of(recipient_list_export_csv(recipient_list=recipient_list))
    assert body == '"phone_number";"first_name"\n"6593333311";"Anthony"\n"6593333322";"Bob"\n'


def test_csv_neutralises_formulas_but_not_phones(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.bulk_create([
        Recipient(recipient_list=recipient_list, phone=f"38050123456{i}", first_name=value[:50], custom=value)
        for i, value in enumerate(HOSTILE)
    ])
    body = text_of(recipient_list_export_csv(recipient_list=recipient_list))
    lines = body.split("\n")
    assert lines[0] == '"phone_number";"first_name";"custom"'
    assert lines[1] == '"380501234560";"\'=HYPERLINK(""http://evil.example"",""Click"")";' \
                       '"\'=HYPERLINK(""http://evil.example"",""Click"")"'
    assert lines[2] == '"380501234561";"\'+1+1";"\'+1+1"'
    assert lines[3] == '"380501234562";"\'@SUM(A1:A2)";"\'@SUM(A1:A2)"'
    assert lines[4] == '"380501234563";"\'-2+3";"\'-2+3"'
    assert '"\'\tTab"' in lines[5]
    assert "\"'\rCR\"" in body


def test_csv_streams_big_lists_in_chunks(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.bulk_create(
        [Recipient(recipient_list=recipient_list, phone=f"3805{i:08d}") for i in range(5000)]
    )
    chunks = list(recipient_list_export_csv(recipient_list=recipient_list))
    assert len(chunks) > 2
    body = text_of(chunks)
    assert body.count("\n") == 5001
    assert body.startswith('"phone_number"\n"380500000000"\n')


def test_xlsx_export_keeps_phones_as_text_and_formulas_inert(make_list):
    recipient_list = make_list(name="Customers: March", phones=[])
    Recipient.objects.bulk_create([
        Recipient(recipient_list=recipient_list, phone="380501234567", first_name="Olena", custom=HOSTILE[0]),
        Recipient(recipient_list=recipient_list, phone="380501234568", first_name="@SUM(A1)", custom="+1+1"),
    ])
    output = io.BytesIO()
    recipient_list_export_xlsx(recipient_list=recipient_list, output=output)
    sheet = load_workbook(io.BytesIO(output.getvalue())).active
    assert sheet.title == "Customers_ March"
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows == [
        ["phone_number", "first_name", "custom"],
        ["380501234567", "Olena", "'" + HOSTILE[0]],
        ["380501234568", "'@SUM(A1)", "'+1+1"],
    ]
    assert all(cell.data_type == "s" for row in sheet.iter_rows(min_row=2) for cell in row)


def test_unsubscribe_list_downloads(make_unsubscribe_list):
    unsubscribe_list = make_unsubscribe_list(phones=["380502327265", "380502222233"])
    body = text_of(unsubscribe_list_export_csv(unsubscribe_list=unsubscribe_list))
    assert body == '"phone_number"\n"380502327265"\n"380502222233"\n'
    output = io.BytesIO()
    unsubscribe_list_export_xlsx(unsubscribe_list=unsubscribe_list, output=output)
    sheet = load_workbook(io.BytesIO(output.getvalue())).active
    assert [row[0].value for row in sheet.iter_rows()] == ["phone_number", "380502327265", "380502222233"]


def test_export_of_an_imported_list_round_trips(write_csv, run_import, tmp_path):
    job = run_import(
        write_csv([["phone", "name", "note"], ["380501234567", "Anna", "=1+1"], ["380501234568", "Bob", "plain"]]),
        {"0": "phone_number", "1": "first_name", "2": "custom"},
    )
    body = text_of(recipient_list_export_csv(recipient_list=job.recipient_list))
    assert body == (
        '"phone_number";"first_name";"custom"\n"380501234567";"Anna";"\'=1+1"\n"380501234568";"Bob";"plain"\n'
    )


def test_xlsx_export_drops_control_characters_a_workbook_cannot_hold(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.create(recipient_list=recipient_list, phone="380501234567", first_name="Ann\x07\x1b",
                             custom="line\nnext\x1f")
    output = io.BytesIO()
    recipient_list_export_xlsx(recipient_list=recipient_list, output=output)
    sheet = load_workbook(io.BytesIO(output.getvalue())).active
    assert [cell.value for cell in list(sheet.iter_rows())[1]] == ["380501234567", "Ann", "line\nnext"]


def test_cyrillic_survives_the_csv_download(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.create(recipient_list=recipient_list, phone="380501234567", first_name="Ольга")
    assert text_of(recipient_list_export_csv(recipient_list=recipient_list)).splitlines()[1] == (
        '"380501234567";"Ольга"'
    )


def test_rejected_rows_report_opens_in_excel_with_formulas_inert(write_csv, run_import):
    path = write_csv([["phone", "name"], ["=HYPERLINK(\"http://evil.example\")", "Ann"], ["@SUM(1)", "Ольга"],
                      ["380501234567", "Bob"]])
    job = run_import(path, {"0": "phone_number", "1": "first_name"})
    with job.rejects.open("rb") as fh:
        body = fh.read()
    assert body.startswith(codecs.BOM_UTF8)
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,value,reason"
    assert lines[1].startswith('2,phone_number,"\'=HYPERLINK(""http://evil.example"")",')
    assert lines[2].startswith("3,phone_number,'@SUM(1),")


def test_numbers_get_no_apostrophe_in_csv_or_xlsx(make_list):
    recipient_list = make_list(phones=[])
    Recipient.objects.create(recipient_list=recipient_list, phone="380501234567", custom="+380 50 765 43 21",
                             custom1="-12.5", custom2="+1+1")
    body = text_of(recipient_list_export_csv(recipient_list=recipient_list))
    assert body.split("\n")[1] == '"380501234567";"+380 50 765 43 21";"-12.5";"\'+1+1"'
    output = io.BytesIO()
    recipient_list_export_xlsx(recipient_list=recipient_list, output=output)
    sheet = load_workbook(io.BytesIO(output.getvalue())).active
    assert [cell.value for cell in sheet[2]] == ["380501234567", "+380 50 765 43 21", "-12.5", "'+1+1"]
