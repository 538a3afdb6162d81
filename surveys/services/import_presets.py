"""The CSV layouts of the response exports people bring when they switch tools (``--format``).

Each preset names the columns of that tool's export that we know how to read; questions are named by
their text in most tools, so a score column is mapped with ``--map "How likely…=nps"`` on top of the
preset. A preset column missing from the file is skipped; the user's ``--map`` overrides the preset.
Sources for each layout are given with it; where the layout could not be confirmed from the tool's own
documentation or code, the comment says so.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    columns: tuple[tuple[str, str], ...]  # (export column, our column), first found per column wins
    extra_header_rows: int = 0  # rows after the header that describe columns, not responses
    date_format: str | None = None  # strptime format of the dates, when not ISO 8601
    utc: bool = False  # naive dates are UTC, not the site's time zone
    empty: tuple[str, ...] = ()
    # Qualtrics adds "<question>_NPS_GROUP" next to every NPS question: that question is the nps column.
    nps_group_suffix: str = ""

    def pairs(self, header: list[str]) -> tuple[tuple[str, str], ...]:
        if not self.nps_group_suffix:
            return self.columns
        names = {h.strip().casefold() for h in header}
        suffix = self.nps_group_suffix.casefold()
        nps = tuple(
            (h.strip(), "nps")
            for h in header
            if not h.strip().casefold().endswith(suffix) and (h.strip() + self.nps_group_suffix).casefold() in names
        )
        return nps[:1] + self.columns


PRESETS: dict[str, Preset] = {
    # Delighted (shut down 30 June 2026). Its CSV export could not be confirmed from a stored copy of
    # Delighted's help pages; the columns follow the survey response object of Delighted's API (id,
    # person, score, comment, created_at as Unix seconds; schemas.apis.io/schemas/delighted/
    # survey-response) with the export's title-case headers ("Response ID", "Score", "Comment",
    # "Created At"/"Response Timestamp") tried first. Score is NPS, Delighted's default survey: a CSAT or
    # CES project adds --map Score=csat.
    "delighted": Preset(
        name="delighted",
        columns=(
            ("Response ID", "response_id"),
            ("id", "response_id"),
            ("Score", "nps"),
            ("Comment", "comment"),
            ("Response Timestamp", "submitted_at"),
            ("Created At", "submitted_at"),
            ("created_at", "submitted_at"),
        ),
        utc=True,
    ),
    # Qualtrics "Export data" CSV (qualtrics.com/support/survey-platform/data-and-analysis-module/data/
    # download-data/understanding-your-dataset/): three header rows (field ids such as ResponseId,
    # RecordedDate, Q1; the question text; {"ImportId": …} JSON), RecordedDate "YYYY-MM-DD HH:MM:SS" in the
    # account's time zone, ExternalReference set by the distribution (the customer's id), UserLanguage
    # such as "EN" or "PT-BR". An NPS question is followed by its "<Q>_NPS_GROUP" column.
    "qualtrics": Preset(
        name="qualtrics",
        columns=(
            ("ResponseId", "response_id"),
            ("ResponseID", "response_id"),
            ("RecordedDate", "submitted_at"),
            ("EndDate", "submitted_at"),
            ("ExternalReference", "customer_id"),
            ("ExternalDataReference", "customer_id"),
            ("UserLanguage", "language"),
        ),
        extra_header_rows=2,
        nps_group_suffix="_NPS_GROUP",
    ),
    # SurveyMonkey "All responses data" CSV. Not confirmed from a stored copy of SurveyMonkey's help; the
    # layout is the commonly documented one: "Respondent ID", "Collector ID", "Start Date", "End Date",
    # "IP Address", "Email Address", "First Name", "Last Name", "Custom Data 1", then one column per
    # question titled with its text, and a second header row ("Response", "Open-Ended Response"). Dates
    # are US style, "MM/DD/YYYY HH:MM:SS AM".
    "surveymonkey": Preset(
        name="surveymonkey",
        columns=(
            ("Respondent ID", "response_id"),
            ("End Date", "submitted_at"),
            ("Custom Data 1", "customer_id"),
        ),
        extra_header_rows=1,
        date_format="%m/%d/%Y %I:%M:%S %p",
    ),
    # Typeform "Download responses" CSV. Not confirmed from a stored copy of Typeform's help; the layout
    # is the commonly documented one: "#" (the response token), one column per question titled with its
    # text, hidden fields, then "Start Date (UTC)", "Submit Date (UTC)", "Network ID". Dates
    # "YYYY-MM-DD HH:MM:SS" in UTC.
    "typeform": Preset(
        name="typeform",
        columns=(("#", "response_id"), ("Submit Date (UTC)", "submitted_at")),
        utc=True,
    ),
    # Formbricks "Download responses" CSV, from Formbricks' own export code (formbricks/formbricks,
    # getResponsesJson and its headers): "No.", "Response ID", "Timestamp", "Finished", "Survey ID",
    # "Formbricks ID (internal)", "User ID", "Tags", metadata ("url", "userAgent - …"), then one column
    # per question headed "1. <question>". Timestamp "YYYY-MM-DD HH:MM:SS" in UTC unless a time zone is
    # chosen on export. User ID is the id the app gave the contact (the customer's id).
    "formbricks": Preset(
        name="formbricks",
        columns=(("Response ID", "response_id"), ("Timestamp", "submitted_at"), ("User ID", "customer_id")),
        utc=True,
    ),
}
