"""The default taxonomy (data migration) in each language matches hand-written comments with
inflections, accents and typos in case, and leaves unrelated comments alone."""

from __future__ import annotations

import pytest

from comments.models import Theme
from comments.selectors import theme_matcher

pytestmark = pytest.mark.django_db

CASES = [
    ("en", "Deliveries were always LATE and the parcels arrived damaged", {"Delivery"}),
    ("en", "They charged me twice on my last invoice", {"Price and billing"}),
    ("en", "Nobody from customer service ever answered my tickets", {"Support and service"}),
    ("en", "I asked for a refund and never got my money back", {"Returns and refunds"}),
    ("en", "The mobile app keeps crashing at checkout", {"Website and app"}),
    ("es", "Las entregas llegaron muy atrasadas", {"Delivery"}),
    ("es", "Me cobraron dos veces en la facturación de marzo", {"Price and billing"}),
    ("es", "La atencion al cliente nunca responde", {"Support and service"}),
    ("es", "El producto vino defectuoso, mala calidad", {"Product quality"}),
    ("es", "Pedí la devolución y el reembolso tardó un mes", {"Returns and refunds"}),
    ("pt", "A encomenda chegou atrasada, péssima entrega", {"Delivery"}),
    ("pt", "O preço subiu e a cobrança veio errada", {"Price and billing"}),
    ("pt", "O atendimento demorou e ninguém responde", {"Support and service"}),
    ("pt", "Os funcionários são muito educados", {"Staff"}),
    ("pt", "O aplicativo trava toda hora", {"Website and app"}),
    ("fr", "Les livraisons sont toujours en retard", {"Delivery"}),
    ("fr", "Facturé deux fois, les tarifs sont trop chers", {"Price and billing"}),
    ("fr", "Le service client ne répond jamais", {"Support and service"}),
    ("fr", "Produits de très bonne qualité", {"Product quality"}),
    ("fr", "Remboursement refusé après le retour du colis", {"Returns and refunds", "Delivery"}),
]

UNRELATED = [
    ("en", "My grandmother loves gardening on Sundays"),
    ("es", "Mi abuela cultiva tomates en el jardín"),
    ("pt", "Minha avó planta tomates no jardim"),
    ("fr", "Ma grand-mère cultive des tomates au jardin"),
]


@pytest.mark.parametrize(("language", "text", "expected"), CASES)
def test_default_taxonomy_matches(language, text, expected):
    names = dict(Theme.objects.values_list("pk", "name"))
    found = {names[pk] for pk in theme_matcher().match(text, language)}
    assert expected <= found, found


@pytest.mark.parametrize(("language", "text"), UNRELATED)
def test_default_taxonomy_leaves_unrelated_comments(language, text):
    assert theme_matcher().match(text, language) == {}


def test_every_default_theme_has_terms_in_four_languages():
    for theme in Theme.objects.prefetch_related("terms"):
        assert {t.language for t in theme.terms.all()} == {"en", "es", "pt", "fr"}, theme
        assert theme.name_es
