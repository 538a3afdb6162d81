"""The comment analysis engine, offline and with no database: language, themes and sentiment of one text.

``analyse(text, language_hint, evidence, matcher=...)`` is the single entry point; it serves survey
comments, complaints and anything else with free text. Everything it needs ships inside installed
packages (py3langid's model, PyStemmer's Snowball stemmers) or in this folder (the sentiment lexicons),
so nothing is fetched at run time.

Matching works on *stems of accent-free lower-case words*: a term and a comment go through the same
steps, so "Entregas atrasadas", "entrega atrasada" and "ENTREGA ATRASADA" meet on ("entreg", "atras").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import Stemmer
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from core.definitions import (
    CES_EASY_MIN,
    CES_NEUTRAL,
    CSAT_NEUTRAL,
    CSAT_SATISFIED_MIN,
    PASSIVE_MIN,
    PROMOTER_MIN,
    SCALES,
    scale_text,
)

LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "fr")
OTHER = "other"
NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"
SENTIMENTS: tuple[str, ...] = (NEGATIVE, NEUTRAL, POSITIVE)

_STEMMER_NAMES = {"en": "english", "es": "spanish", "pt": "portuguese", "fr": "french"}
# The full identifier names a language outside ours only when it is this sure; below that a short
# comment in one of ours ("Excelente atención" reads as Galician) keeps the best of our four.
OTHER_MIN_PROBABILITY = 0.9
# A phrase's words may have this many words between them ("entrega muy atrasada").
PHRASE_GAP = 2
# A negator flips the polarity of a lexicon word up to this many words after it.
NEGATION_REACH = 3

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_LEXICON_DIR = Path(__file__).parent / "lexicons"


class AnalysisError(ValueError):
    """A bad input to the engine (an unknown language, a score outside its scale)."""


@dataclass(frozen=True)
class ScoreEvidence:
    """The respondent's own score on one question: ``question`` is "nps", "csat" or "ces"."""

    question: str
    value: int

    def sentiment(self) -> str:
        if self.question not in ("nps", "csat", "ces"):
            raise AnalysisError(f"score evidence must be nps, csat or ces, not {self.question!r}")
        _check(self.value, self.question)
        if self.question == "nps":
            return POSITIVE if self.value >= PROMOTER_MIN else NEUTRAL if self.value >= PASSIVE_MIN else NEGATIVE
        if self.question == "csat":
            return sentiment_of_csat(self.value)
        return POSITIVE if self.value >= CES_EASY_MIN else NEUTRAL if self.value == CES_NEUTRAL else NEGATIVE


def sentiment_of_csat(value: int) -> str:
    """core.definitions: satisfied is positive, the middle of the scale neutral, the rest negative."""
    return POSITIVE if value >= CSAT_SATISFIED_MIN else NEUTRAL if value == CSAT_NEUTRAL else NEGATIVE


def _check(value: int, question: str) -> None:
    if not SCALES[question][0] <= value <= SCALES[question][1]:
        raise AnalysisError(f"score {value} is outside the {question} scale {scale_text(question)}")


@dataclass(frozen=True)
class Result:
    language: str
    themes: dict[int, tuple[str, ...]]  # theme id -> the comment's words that matched it, as written
    sentiment: str
    sentiment_source: str  # "score" or "text"


# --- text -------------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: "Atención" -> "atencion"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    return _WORD.findall(text)


@cache
def _stemmer(language: str) -> Stemmer.Stemmer:
    if language not in _STEMMER_NAMES:
        raise AnalysisError(f"no stemmer for language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return Stemmer.Stemmer(_STEMMER_NAMES[language], 100_000)


def stems(text: str, language: str) -> list[str]:
    return _stemmer(language).stemWords(words(fold(text)))


@dataclass(frozen=True)
class Tokens:
    surface: list[str]  # the words as written, for highlighting
    folded: list[str]  # lower case without accents
    keys: list[str]  # their stems


def tokens(text: str, language: str) -> Tokens:
    """The words of a text, folded and stemmed (once for both matching and sentiment). Folding the text
    in one go is much faster than word by word; a character whose folding splits a word (rare
    ligatures) falls back to folding each word."""
    surface = words(text)
    folded = words(fold(text))
    if len(folded) != len(surface):
        folded = [fold(w) for w in surface]
    return Tokens(surface, folded, _stemmer(language).stemWords(folded))


# --- language ---------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _identifiers() -> tuple[LanguageIdentifier, LanguageIdentifier]:
    full = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ours = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ours.set_languages(list(LANGUAGES))
    return full, ours


def _mostly_latin(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    latin = sum(1 for c in letters if c < "\u0250")
    return latin * 2 >= len(letters)


def detect_language(text: str, hint: str | None = None) -> str:
    """en, es, pt or fr, else "other". With no letters to go on, the hint (when one of ours) decides."""
    if not any(c.isalpha() for c in text):
        return hint if hint in LANGUAGES else OTHER
    if not _mostly_latin(text):
        return OTHER
    full, ours = _identifiers()
    language, probability = full.classify(text)
    if language in LANGUAGES:
        return language
    if probability >= OTHER_MIN_PROBABILITY:
        return OTHER
    return ours.classify(text)[0]


# --- themes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    theme_id: int
    language: str
    term: str


class ThemeMatcher:
    """The taxonomy compiled per language: single stems to themes, and phrases by their first stem."""

    def __init__(self, terms: Iterable[Term], *, version: int = 0) -> None:
        self.version = version
        self._single: dict[str, dict[str, set[int]]] = {lang: {} for lang in LANGUAGES}
        self._phrases: dict[str, dict[str, list[tuple[tuple[str, ...], int]]]] = {lang: {} for lang in LANGUAGES}
        for term in terms:
            key = stems(term.term, term.language)
            if not key:
                raise AnalysisError(f"theme term {term.term!r} has no words")
            if len(key) == 1:
                self._single[term.language].setdefault(key[0], set()).add(term.theme_id)
            else:
                self._phrases[term.language].setdefault(key[0], []).append((tuple(key), term.theme_id))

    def match(self, text: str | Tokens, language: str) -> dict[int, tuple[str, ...]]:
        if language not in LANGUAGES:
            return {}
        found_tokens = text if isinstance(text, Tokens) else tokens(text, language)
        surface, keys = found_tokens.surface, found_tokens.keys
        single, phrases = self._single[language], self._phrases[language]
        found: dict[int, list[str]] = {}
        for i, key in enumerate(keys):
            for theme_id in single.get(key, ()):
                found.setdefault(theme_id, []).append(surface[i])
            for phrase, theme_id in phrases.get(key, ()):
                end = _phrase_end(keys, i, phrase)
                if end is not None:
                    found.setdefault(theme_id, []).extend(surface[i:end])
        return {theme_id: tuple(dict.fromkeys(ws)) for theme_id, ws in found.items()}


def _phrase_end(keys: list[str], start: int, phrase: tuple[str, ...]) -> int | None:
    """Where the phrase ends when it starts at ``start``, each next word within PHRASE_GAP words."""
    at = start
    for part in phrase[1:]:
        window = keys[at + 1 : at + 2 + PHRASE_GAP]
        if part not in window:
            return None
        at = at + 1 + window.index(part)
    return at + 1


# --- sentiment --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lexicon:
    polarity: dict[str, int]  # stem -> +1 / -1
    negators: frozenset[str]


@cache
def lexicon(language: str) -> Lexicon:
    """The language's lexicon (lexicons/<language>.txt: "+word", "-word" or "!negator", one a line)."""
    polarity: dict[str, int] = {}
    negators: set[str] = set()
    stemmer = _stemmer(language)
    for line in (_LEXICON_DIR / f"{language}.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        sign, word = line[0], fold(line[1:].strip())
        if sign == "!":
            negators.add(word)
        elif sign in "+-":
            for w in words(word):
                polarity[stemmer.stemWord(w)] = 1 if sign == "+" else -1
        else:
            raise AnalysisError(f"lexicon {language}: line {line!r} must start with +, - or !")
    return Lexicon(polarity=polarity, negators=frozenset(negators))


def text_polarity(text: str | Tokens, language: str) -> int:
    """Lexicon words counted +1/-1, a negator flipping the next NEGATION_REACH words."""
    lex = lexicon(language)
    found = text if isinstance(text, Tokens) else tokens(text, language)
    folded, keys = found.folded, found.keys
    total, negated_until = 0, -1
    for i, (word, key) in enumerate(zip(folded, keys, strict=True)):
        if word in lex.negators:
            negated_until = i + NEGATION_REACH
            continue
        value = lex.polarity.get(key, 0)
        total += -value if i <= negated_until else value
    return total


def text_sentiment(text: str | Tokens, language: str) -> str:
    polarity = text_polarity(text, language)
    return POSITIVE if polarity > 0 else NEGATIVE if polarity < 0 else NEUTRAL


# --- the entry point --------------------------------------------------------------------------------


def analyse(text: str, language_hint: str | None, evidence: ScoreEvidence | None, *, matcher: ThemeMatcher) -> Result:
    """Language, themes (with the words that matched) and sentiment of one comment. The respondent's
    score, when there is one, decides the sentiment; otherwise the text does. A comment in another
    language is matched with the hint's terms (when the hint is one of ours): product names and
    English loan words are often all a short comment holds."""
    if not isinstance(text, str):
        raise AnalysisError("the text must be a string")
    if language_hint is not None and language_hint not in (*LANGUAGES, OTHER):
        language_hint = language_hint.split("-")[0].lower()
    language = detect_language(text, language_hint)
    words_language = language if language in LANGUAGES else language_hint if language_hint in LANGUAGES else None
    found = tokens(text, words_language) if words_language else None
    themes = matcher.match(found, words_language) if found else {}
    if evidence is not None:
        return Result(language, themes, evidence.sentiment(), "score")
    sentiment = text_sentiment(found, words_language) if found else NEUTRAL
    return Result(language, themes, sentiment, "text")
