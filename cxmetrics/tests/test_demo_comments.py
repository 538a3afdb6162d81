"""The demo's comments: varied, in the four languages, with themes and tone that follow the score."""

from __future__ import annotations

from cxmetrics.demo_comments import THEMES, CommentWriter, without_accents

CATEGORIES = ("detractor", "passive", "promoter")


def generated(seed: int = 42, count: int = 1000) -> list[tuple[str, str]]:
    writer = CommentWriter(seed)
    return [
        (category, writer.write(("en", "es")[i % 2], category))
        for i, category in enumerate(CATEGORIES[i % 3] for i in range(count))
    ]


def language_of(text: str) -> str | None:
    """Which language's phrases a comment uses (accent- and case-blind, typos aside)."""
    plain = without_accents(text).casefold()
    for language, by_category in THEMES.items():
        for themes in by_category.values():
            for phrases in themes.values():
                for phrase in phrases:
                    head = without_accents(phrase.split("{")[0]).casefold().strip()
                    if len(head) > 8 and head in plain:
                        return language
    return None


def test_a_thousand_comments_hardly_repeat():
    texts = [text for _category, text in generated()]
    assert len(set(texts)) / len(texts) >= 0.9


def test_every_language_appears():
    found = {language_of(text) for _category, text in generated()}
    assert {"en", "es", "pt", "fr"} <= found


def test_the_same_seed_writes_the_same_comments_and_another_seed_others():
    assert generated(7, 200) == generated(7, 200)
    assert generated(7, 200) != generated(8, 200)


def test_detractors_complain_and_promoters_praise():
    writer = CommentWriter(3)
    complaints = [without_accents(writer.write("en", "detractor")).casefold() for _ in range(300)]
    praise = [without_accents(writer.write("en", "promoter")).casefold() for _ in range(300)]
    late = ("late", "retard", "atras")
    assert sum(any(w in t for w in late) for t in complaints) > 30
    assert not any(any(w in t for w in late) for t in praise)
    assert sum(any(w in t for w in ("great", "excellent", "ótim", "otim", "genial", "excelente")) for t in praise) > 30


def test_some_comments_lose_their_accents_or_have_a_typo():
    texts = [text for _category, text in generated(count=1000)]
    spanish_without_accents = [t for t in texts if "facil" in t or "dias de retraso" in t]
    assert spanish_without_accents
    every_phrase = {
        without_accents(p.split("{")[0]).casefold().strip()
        for by_category in THEMES.values()
        for themes in by_category.values()
        for phrases in themes.values()
        for p in phrases
    }
    misspelt = [t for t in texts if language_of(t) is None]
    assert misspelt and len(misspelt) < 0.3 * len(texts)
    assert every_phrase
