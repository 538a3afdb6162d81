"""The engine without the database: language, matching robust to accents, case, plurals and
inflection, phrases, sentiment from the score or the text, bad inputs."""

from __future__ import annotations

import pytest

from comments.analysis import (
    AnalysisError,
    ScoreEvidence,
    Term,
    ThemeMatcher,
    analyse,
    detect_language,
    text_sentiment,
)

DELIVERY, SUPPORT = 1, 2
MATCHER = ThemeMatcher(
    [
        Term(DELIVERY, "es", "entrega"),
        Term(DELIVERY, "es", "entrega atrasada"),
        Term(DELIVERY, "fr", "livraison"),
        Term(SUPPORT, "es", "atención al cliente"),
        Term(SUPPORT, "en", "customer service"),
    ]
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The delivery was late and nobody answered my emails.", "en"),
        ("La entrega llegó tarde y nadie contestó mis correos.", "es"),
        ("A entrega atrasou e ninguém respondeu aos meus e-mails.", "pt"),
        ("La livraison est arrivée en retard et personne n'a répondu.", "fr"),
        ("Die Lieferung kam zu spät und niemand hat geantwortet.", "other"),
        ("Доставка опоздала, никто не ответил.", "other"),
    ],
)
def test_language(text, language):
    assert detect_language(text) == language


def test_language_without_letters_follows_the_hint():
    assert detect_language("10/10 !!!", "pt") == "pt"
    assert detect_language("10/10 !!!", None) == "other"


def test_matching_ignores_accents_case_plurals_and_inflection():
    assert MATCHER.match("ENTREGAS rapidísimas", "es") == {DELIVERY: ("ENTREGAS",)}
    assert MATCHER.match("Les livraisons sont parfaites", "fr") == {DELIVERY: ("livraisons",)}
    assert MATCHER.match("la atencion al cliente fue mala", "es") == {SUPPORT: ("atencion", "al", "cliente")}


def test_phrase_words_in_order_with_a_short_gap():
    assert MATCHER.match("Our customer service team", "en") == {SUPPORT: ("customer", "service")}
    assert MATCHER.match("service to the customer", "en") == {}
    assert MATCHER.match("customer and then after that some service", "en") == {}
    found = MATCHER.match("Entregas muy atrasadas", "es")
    assert found == {DELIVERY: ("Entregas", "muy", "atrasadas")}


def test_terms_of_another_language_do_not_match():
    assert MATCHER.match("la livraison", "es") == {}


def test_a_term_without_words_is_refused():
    with pytest.raises(AnalysisError, match="no words"):
        ThemeMatcher([Term(1, "en", "!!")])


@pytest.mark.parametrize(
    ("evidence", "sentiment"),
    [
        (ScoreEvidence("nps", 10), "positive"),
        (ScoreEvidence("nps", 9), "positive"),
        (ScoreEvidence("nps", 8), "neutral"),
        (ScoreEvidence("nps", 6), "negative"),
        (ScoreEvidence("csat", 4), "positive"),
        (ScoreEvidence("csat", 3), "neutral"),
        (ScoreEvidence("csat", 2), "negative"),
        (ScoreEvidence("ces", 5), "positive"),
        (ScoreEvidence("ces", 4), "neutral"),
        (ScoreEvidence("ces", 3), "negative"),
    ],
)
def test_the_score_decides_the_sentiment_when_there_is_one(evidence, sentiment):
    # The text says the opposite of a promoter: the respondent's own score wins.
    result = analyse("Terrible, the worst delivery ever.", "en", evidence, matcher=MATCHER)
    assert (result.sentiment, result.sentiment_source) == (sentiment, "score")


@pytest.mark.parametrize(
    ("evidence", "message"),
    [(ScoreEvidence("nps", 11), "outside the nps scale 0-10"), (ScoreEvidence("stars", 3), "nps, csat or ces")],
)
def test_bad_evidence_is_refused(evidence, message):
    with pytest.raises(AnalysisError, match=message):
        analyse("ok", "en", evidence, matcher=MATCHER)


@pytest.mark.parametrize(
    ("text", "language", "sentiment"),
    [
        ("Excellent service, very friendly staff. Thank you!", "en", "positive"),
        ("Terrible delivery, the parcel arrived broken.", "en", "negative"),
        ("The staff was not helpful at all.", "en", "negative"),
        ("Muy buena atención, el personal es amabilísimo y rápido.", "es", "positive"),
        ("Pésimo servicio, nunca contestan.", "es", "negative"),
        ("Produto ótimo, chegou rápido, recomendo!", "pt", "positive"),
        ("Péssimo atendimento, o produto veio quebrado.", "pt", "negative"),
        ("Personnel très aimable, livraison rapide. Parfait.", "fr", "positive"),
        ("Colis abîmé et livreur désagréable, très déçu.", "fr", "negative"),
        ("I ordered on Tuesday.", "en", "neutral"),
    ],
)
def test_text_sentiment(text, language, sentiment):
    assert text_sentiment(text, language) == sentiment


def test_a_comment_without_a_score_takes_the_text_sentiment():
    result = analyse("Pésimo servicio, la entrega atrasada.", "es", None, matcher=MATCHER)
    assert result.language == "es"
    assert result.sentiment == "negative" and result.sentiment_source == "text"
    assert result.themes == {DELIVERY: ("entrega", "atrasada")}
