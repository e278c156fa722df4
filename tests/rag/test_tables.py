"""Table passages as the reader, an LLM and a citation see them: rows as "column: value" pairs,
only the rows a question names, of one row only its key and the columns the question names, and
the cell a question names outright. Markdown tables (what ingest writes) and plain-text pipe
tables both."""

from rag.answering.tables import cell_answer, cells, labelled, table_header, table_text

CONTEXT = "debian-releases.csv\n| row | version | codename | created | release | eol |"
ROWS = (
    "| 11 | 10 | Buster | 2017-06-17 | 2019-07-06 | 2022-09-10 |\n"
    "| 12 | 11 | Bullseye | 2019-07-06 | 2021-08-14 | 2024-08-14 |\n"
    "| 13 | 12 | Bookworm | 2021-08-14 | 2023-06-10 | 2026-07-11 |"
)
PLAIN = """Reserved uids:
    uid   | name              | description
    ------+-------------------+---------------
    63434 | netplan           | netplan
    64001 | mysql             | mysql-server
    64005 | tac-plus          | tac-plus user"""


def test_cells_headers_and_labelled_rows():
    assert cells("| a | b \\| c |  |") == ["a", "b \\| c", ""]
    assert cells("    64001 | mysql | mysql-server") == ["64001", "mysql", "mysql-server"]
    assert table_header(ROWS, CONTEXT) == ["row", "version", "codename", "created", "release", "eol"]
    assert table_header(PLAIN, None) == ["uid", "name", "description"]
    assert table_header("No table. Just prose.", None) is None
    header = table_header(ROWS, CONTEXT)
    row = ROWS.splitlines()[2]
    assert labelled(row, header) == "version: 12; codename: Bookworm; created: 2021-08-14; release: 2023-06-10; eol: 2026-07-11"  # no sheet row number
    assert labelled(row, header, {1, 4}) == "version: 12; release: 2023-06-10"
    assert labelled("| only | two |", header) == "| only | two |"  # not a row of this header


def test_without_a_question_every_row_is_labelled_and_prose_stays():
    own = "| version | codename |\n| --- | --- |\n| 12 | Bookworm |\nA line of prose."
    assert table_text(own, None).splitlines() == ["version: 12; codename: Bookworm", "A line of prose."]
    assert len(table_text(ROWS, CONTEXT).splitlines()) == 3
    prose = "No table here. Just prose | with a pipe."
    assert table_text(prose, None, "Which one?") == prose


def test_a_question_keeps_the_rows_it_names_and_the_columns_it_asks_for():
    assert table_text(ROWS, CONTEXT, "When was Debian bookworm released?") == "version: 12; codename: Bookworm; release: 2023-06-10"
    assert table_text(ROWS, CONTEXT, "When did Debian 10 reach its end of life?") == "version: 10; eol: 2022-09-10"  # "eol" spelt out
    assert table_text(ROWS, CONTEXT, "Tell me about Bullseye") == "version: 11; codename: Bullseye; created: 2019-07-06; release: 2021-08-14; eol: 2024-08-14"
    assert table_text(ROWS, CONTEXT, "When was Debian 13 released?") == ""  # 13 is only a sheet row number: not this table's row
    assert table_text(ROWS, CONTEXT, "When was it released?").count("\n") == 2  # names no row: all rows, labelled
    assert table_text(PLAIN, None, "Which uid is reserved for the mysql user?").splitlines() == ["Reserved uids:", "uid: 64001; name: mysql"]


def test_the_cell_a_question_names_outright():
    cell = cell_answer("When was Debian bookworm released?", ROWS, CONTEXT)
    assert cell is not None and cell.value == "2023-06-10" and cell.row == "version: 12; codename: Bookworm; release: 2023-06-10"
    assert cell_answer("Which Debian version is codenamed Bullseye?", ROWS, CONTEXT).value == "11"
    assert cell_answer("Which uid is reserved for netplan?", PLAIN, None).value == "63434"
    assert cell_answer("When was the bookworm release created?", ROWS, CONTEXT) is None  # two columns named: the reader chooses
    assert cell_answer("Tell me about Bullseye", ROWS, CONTEXT) is None  # no column named
    assert cell_answer("Where is Mount Etna?", "Mount Etna is in Sicily.", None) is None
