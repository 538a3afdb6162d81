"""Demo comments as customers write them: in English, Spanish, Portuguese and French, on themes and in a
tone that follow the score (detractors about late deliveries, billing errors, unanswered support and
price; passives mixed; promoters about staff, quality and ease), composed from parts (an opening, one
or two theme phrases in one of their inflected forms, a detail, a closing) with the occasional typo and
missing accent, so that a page of comments does not repeat itself.

Deterministic: a ``CommentWriter`` made with the same seed writes the same comments in the same order.
It draws from a generator of its own, so adding comments changes no other demo figure.
"""

from __future__ import annotations

import unicodedata

import numpy as np

LANGUAGES = ("en", "es", "pt", "fr")
# The language a comment is written in, by the language of the survey the customer answered: some
# customers answer an English or Spanish survey in their own language.
WRITTEN_IN = {
    "en": (("en", 0.72), ("fr", 0.14), ("pt", 0.14)),
    "es": (("es", 0.8), ("pt", 0.2)),
}
TYPO_RATE = 0.12  # share of comments with one slip of the keyboard
UNACCENTED_RATE = 0.25  # share of es/pt/fr comments typed without accents
SECOND_THEME_RATE = 0.35

# Per language and category: theme phrases (each theme in several forms, as people write it).
THEMES: dict[str, dict[str, dict[str, tuple[str, ...]]]] = {
    "en": {
        "detractor": {
            "delivery": ("deliveries arrive late", "the delivery was late again", "late deliveries every week",
                         "our order came {n} days late", "shipments keep arriving late", "delivery delayed once more"),
            "billing": ("too many billing errors", "the invoice was wrong again", "we were charged twice",
                        "billing mistakes every month", "another incorrect invoice", "the bill had errors"),
            "support": ("support never answers", "nobody replies to our emails", "support took {n} days to answer",
                        "tickets stay unanswered", "no answer from support", "calls to support go unanswered"),
            "price": ("prices are too high", "the price went up {n}% this year", "too expensive for what we get",
                      "the new prices are hard to justify", "pricing keeps increasing", "overpriced"),
        },
        "passive": {
            "good": ("the product is fine", "quality is decent", "the team is friendly", "ordering is easy enough",
                     "service is ok overall", "the staff are helpful"),
            "bad": ("deliveries are sometimes late", "prices went up", "support can be slow",
                    "invoices need checking", "delivery times vary a lot", "answers take a while"),
        },
        "promoter": {
            "staff": ("the staff are great", "our account manager is very helpful", "the team is always friendly",
                      "{name} in support was fantastic", "very professional people", "helpful staff every time"),
            "quality": ("excellent quality", "the product keeps getting better", "top quality products",
                        "the quality is consistently good", "great product", "everything works as promised"),
            "ease": ("very easy to order", "ordering takes minutes", "the app is easy to use", "easy to work with",
                     "returns were simple", "everything is straightforward"),
        },
    },
    "es": {
        "detractor": {
            "delivery": ("las entregas llegan tarde", "el pedido llegó tarde otra vez", "entregas atrasadas cada semana",
                         "el envío llegó con {n} días de retraso", "los envíos siempre se retrasan",
                         "otra entrega retrasada"),
            "billing": ("demasiados errores en las facturas", "la factura vino mal otra vez", "nos cobraron dos veces",
                        "errores de facturación cada mes", "otra factura incorrecta", "la factura tenía errores"),
            "support": ("el soporte nunca responde", "nadie contesta los correos", "soporte tardó {n} días en responder",
                        "las incidencias siguen sin respuesta", "sin respuesta del servicio técnico",
                        "nadie atiende el teléfono"),
            "price": ("los precios son demasiado altos", "el precio subió un {n}% este año",
                      "demasiado caro para lo que ofrecen", "los nuevos precios no se justifican",
                      "las tarifas no paran de subir", "muy caro"),
        },
        "passive": {
            "good": ("el producto está bien", "la calidad es correcta", "el equipo es amable",
                     "pedir es bastante fácil", "el servicio en general bien", "el personal ayuda"),
            "bad": ("las entregas a veces se retrasan", "los precios han subido", "el soporte es lento",
                    "hay que revisar las facturas", "los plazos de entrega varían mucho", "las respuestas tardan"),
        },
        "promoter": {
            "staff": ("el personal es estupendo", "nuestra gestora de cuenta es muy atenta",
                      "el equipo siempre es amable", "{name} de soporte fue genial", "gente muy profesional",
                      "trato excelente del personal"),
            "quality": ("calidad excelente", "el producto mejora cada año", "productos de primera calidad",
                        "la calidad es siempre buena", "gran producto", "todo funciona como prometen"),
            "ease": ("muy fácil hacer pedidos", "pedir lleva minutos", "la aplicación es facilísima",
                     "es fácil trabajar con ustedes", "las devoluciones fueron sencillas", "todo es muy sencillo"),
        },
    },
    "pt": {
        "detractor": {
            "delivery": ("as entregas chegam atrasadas", "a entrega atrasou de novo", "entregas atrasadas toda semana",
                         "o pedido chegou com {n} dias de atraso", "os envios sempre atrasam", "mais uma entrega atrasada"),
            "billing": ("muitos erros nas faturas", "a fatura veio errada outra vez", "fomos cobrados duas vezes",
                        "erros de cobrança todo mês", "outra fatura incorreta", "a conta tinha erros"),
            "support": ("o suporte nunca responde", "ninguém responde aos e-mails", "o suporte levou {n} dias para responder",
                        "os chamados ficam sem resposta", "sem resposta do atendimento", "ninguém atende o telefone"),
            "price": ("os preços estão altos demais", "o preço subiu {n}% este ano", "caro demais pelo que oferecem",
                      "os novos preços não se justificam", "os preços não param de subir", "muito caro"),
        },
        "passive": {
            "good": ("o produto é bom", "a qualidade é razoável", "a equipe é simpática", "fazer pedidos é fácil",
                     "o serviço em geral é bom", "os atendentes ajudam"),
            "bad": ("as entregas às vezes atrasam", "os preços subiram", "o suporte é lento",
                    "é preciso conferir as faturas", "os prazos de entrega variam muito", "as respostas demoram"),
        },
        "promoter": {
            "staff": ("a equipe é ótima", "nosso gerente de conta é muito atencioso", "o pessoal é sempre simpático",
                      "{name} do suporte foi incrível", "gente muito profissional", "atendimento excelente"),
            "quality": ("qualidade excelente", "o produto melhora a cada ano", "produtos de primeira",
                        "a qualidade é sempre boa", "ótimo produto", "tudo funciona como prometido"),
            "ease": ("muito fácil fazer pedidos", "o pedido leva minutos", "o aplicativo é facílimo",
                     "é fácil trabalhar com vocês", "a devolução foi simples", "tudo é muito prático"),
        },
    },
    "fr": {
        "detractor": {
            "delivery": ("les livraisons arrivent en retard", "la livraison était encore en retard",
                         "des livraisons en retard chaque semaine", "la commande est arrivée avec {n} jours de retard",
                         "les envois sont toujours retardés", "encore une livraison en retard"),
            "billing": ("trop d'erreurs de facturation", "la facture était encore fausse", "on nous a facturé deux fois",
                        "des erreurs sur les factures chaque mois", "encore une facture incorrecte",
                        "la facture comportait des erreurs"),
            "support": ("le support ne répond jamais", "personne ne répond à nos e-mails",
                        "le support a mis {n} jours à répondre", "les tickets restent sans réponse",
                        "aucune réponse du service client", "personne ne décroche le téléphone"),
            "price": ("les prix sont trop élevés", "le prix a augmenté de {n} % cette année",
                      "trop cher pour ce qu'on reçoit", "les nouveaux tarifs sont injustifiés",
                      "les tarifs ne cessent d'augmenter", "beaucoup trop cher"),
        },
        "passive": {
            "good": ("le produit est correct", "la qualité est convenable", "l'équipe est sympathique",
                     "commander est assez facile", "le service est bien dans l'ensemble", "le personnel est serviable"),
            "bad": ("les livraisons sont parfois en retard", "les prix ont augmenté", "le support est lent",
                    "il faut vérifier les factures", "les délais de livraison varient beaucoup",
                    "les réponses tardent"),
        },
        "promoter": {
            "staff": ("le personnel est génial", "notre chargée de compte est très attentive",
                      "l'équipe est toujours aimable", "{name} du support a été formidable", "des gens très professionnels",
                      "un accueil excellent"),
            "quality": ("qualité excellente", "le produit s'améliore chaque année", "des produits de premier ordre",
                        "la qualité est toujours au rendez-vous", "super produit", "tout fonctionne comme promis"),
            "ease": ("très facile de commander", "commander prend deux minutes", "l'application est très simple",
                     "facile de travailler avec vous", "le retour a été simple", "tout est très simple"),
        },
    },
}  # fmt: skip

# Openings, details and closings by language and tone ("" leaves the part out).
OPENINGS = {
    "en": {"neg": ("", "Honestly, ", "Again: ", "Not happy, ", "Sorry to say it but ", "Frankly, "),
           "mid": ("", "Overall ", "To be fair, ", "Mostly ", "In general "),
           "pos": ("", "Really happy, ", "Great job! ", "So far ", "Honestly, ", "Thanks, ")},
    "es": {"neg": ("", "Sinceramente, ", "Otra vez: ", "Muy descontentos, ", "Lo siento pero ", "La verdad, "),
           "mid": ("", "En general ", "Para ser justos, ", "Casi siempre ", "Bueno, "),
           "pos": ("", "Muy contentos, ", "¡Buen trabajo! ", "Hasta ahora ", "Sinceramente, ", "Gracias, ")},
    "pt": {"neg": ("", "Sinceramente, ", "De novo: ", "Muito insatisfeitos, ", "Desculpem mas ", "A verdade é que "),
           "mid": ("", "No geral ", "Para ser justo, ", "Quase sempre ", "Bom, "),
           "pos": ("", "Muito satisfeitos, ", "Parabéns! ", "Até agora ", "Sinceramente, ", "Obrigado, ")},
    "fr": {"neg": ("", "Franchement, ", "Encore une fois : ", "Très déçus, ", "Désolé mais ", "Honnêtement, "),
           "mid": ("", "Dans l'ensemble ", "Pour être juste, ", "La plupart du temps ", "Bon, "),
           "pos": ("", "Très contents, ", "Bravo ! ", "Jusqu'ici ", "Honnêtement, ", "Merci, ")},
}  # fmt: skip
DETAILS = {
    "en": {"neg": ("", " for the {k} time this month", " and nobody warns us", " since {month}",
                   " and it costs us customers", " despite several complaints"),
           "mid": ("", " lately", " this quarter", " since {month}"),
           "pos": ("", " every single time", " since {month}", " for years now", " even in busy weeks")},
    "es": {"neg": ("", " por {k} vez este mes", " y nadie nos avisa", " desde {month}", " y perdemos clientes",
                   " a pesar de varias quejas"),
           "mid": ("", " últimamente", " este trimestre", " desde {month}"),
           "pos": ("", " siempre", " desde {month}", " desde hace años", " incluso en semanas de mucho trabajo")},
    "pt": {"neg": ("", " pela {k} vez este mês", " e ninguém avisa", " desde {month}", " e perdemos clientes",
                   " apesar de várias reclamações"),
           "mid": ("", " ultimamente", " neste trimestre", " desde {month}"),
           "pos": ("", " sempre", " desde {month}", " há anos", " mesmo nas semanas mais cheias")},
    "fr": {"neg": ("", " pour la {k} fois ce mois-ci", " et personne ne prévient", " depuis {month}",
                   " et nous perdons des clients", " malgré plusieurs réclamations"),
           "mid": ("", " ces derniers temps", " ce trimestre", " depuis {month}"),
           "pos": ("", " à chaque fois", " depuis {month}", " depuis des années", " même en période chargée")},
}  # fmt: skip
CLOSINGS = {
    "en": {"neg": ("", " Please fix it.", " We are looking at other providers.", " Very disappointing.", "!!", " Not acceptable."),
           "mid": ("", " Could be better.", " Room for improvement.", " Thanks.", " Keep working on it."),
           "pos": ("", " Thank you!", " Keep it up.", " Highly recommended.", " :)", " Will recommend you.")},
    "es": {"neg": ("", " Arréglenlo, por favor.", " Estamos mirando otros proveedores.", " Muy decepcionante.", "!!",
                   " Inaceptable."),
           "mid": ("", " Podría mejorar.", " Hay margen de mejora.", " Gracias.", " Sigan trabajando en ello."),
           "pos": ("", " ¡Gracias!", " Sigan así.", " Muy recomendable.", " :)", " Os recomendaré.")},
    "pt": {"neg": ("", " Resolvam, por favor.", " Estamos avaliando outros fornecedores.", " Muito decepcionante.",
                   "!!", " Inaceitável."),
           "mid": ("", " Poderia ser melhor.", " Há espaço para melhorar.", " Obrigado.", " Continuem melhorando."),
           "pos": ("", " Obrigado!", " Continuem assim.", " Recomendo muito.", " :)", " Vou indicar vocês.")},
    "fr": {"neg": ("", " Merci de corriger.", " Nous regardons d'autres fournisseurs.", " Très décevant.", " !!",
                   " Inacceptable."),
           "mid": ("", " Peut mieux faire.", " Il y a des progrès à faire.", " Merci.", " Continuez vos efforts."),
           "pos": ("", " Merci !", " Continuez comme ça.", " Je recommande vivement.", " :)", " Je vous recommanderai.")},
}  # fmt: skip
# Joining a positive and a negative phrase (passives), or two phrases of the same tone.
BUT = {"en": ", but ", "es": ", pero ", "pt": ", mas ", "fr": ", mais "}
AND = {"en": " and ", "es": " y ", "pt": " e ", "fr": " et "}
ORDINALS = {
    "en": ("second", "third", "fourth", "fifth"),
    "es": ("segunda", "tercera", "cuarta", "quinta"),
    "pt": ("segunda", "terceira", "quarta", "quinta"),
    "fr": ("deuxième", "troisième", "quatrième", "cinquième"),
}
MONTHS = {
    "en": ("January", "March", "May", "the summer", "September", "last year"),
    "es": ("enero", "marzo", "mayo", "el verano", "septiembre", "el año pasado"),
    "pt": ("janeiro", "março", "maio", "o verão", "setembro", "o ano passado"),
    "fr": ("janvier", "mars", "mai", "l'été", "septembre", "l'an dernier"),
}
NAMES = ("Ana", "Luis", "Marta", "John", "Sophie", "Pedro", "Claire", "Tom", "Inês", "Carmen")
TONE = {"detractor": "neg", "passive": "mid", "promoter": "pos"}


def without_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class CommentWriter:
    """Writes one comment at a time for a survey language and an NPS category, from its own seeded
    generator."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng([seed, 20])

    def _pick(self, options):
        return options[int(self.rng.integers(len(options)))]

    def language_for(self, survey_language: str) -> str:
        choices = WRITTEN_IN.get(survey_language, ((survey_language, 1.0),))
        roll, total = self.rng.random(), 0.0
        for language, share in choices:
            total += share
            if roll < total:
                return language
        return choices[-1][0]

    def _fill(self, text: str, language: str) -> str:
        return text.format(
            n=int(self.rng.integers(2, 16)),
            k=self._pick(ORDINALS[language]),
            month=self._pick(MONTHS[language]),
            name=self._pick(NAMES),
        )

    def _phrase(self, language: str, category: str) -> str:
        themes = THEMES[language][category]
        if category == "passive":
            first, second = self._pick(themes["good"]), self._pick(themes["bad"])
            if self.rng.random() < 0.3:  # the complaint first
                return self._pick(themes["bad"]) + BUT[language] + self._pick(themes["good"])
            return first + BUT[language] + second
        names = list(themes)
        theme = names[int(self.rng.integers(len(names)))]
        phrase = self._pick(themes[theme])
        if self.rng.random() < SECOND_THEME_RATE:
            other = names[int(self.rng.integers(len(names)))]
            if other != theme:
                phrase += AND[language] + self._pick(themes[other])
        return phrase

    def write(self, survey_language: str, category: str) -> str:
        """A comment for an answer of ``category`` (promoter, passive, detractor) to a survey in
        ``survey_language`` (en or es); it may be written in another of the four languages."""
        language = self.language_for(survey_language)
        tone = TONE[category]
        opening = self._pick(OPENINGS[language][tone])
        body = self._fill(self._phrase(language, category) + self._pick(DETAILS[language][tone]), language)
        closing = self._pick(CLOSINGS[language][tone])
        if not opening or opening.rstrip().endswith(("!", ":")):
            body = body[:1].upper() + body[1:]
        text = opening + body + ("" if closing.startswith(("!", " !")) else ".") + closing
        if language != "en" and self.rng.random() < UNACCENTED_RATE:
            text = without_accents(text)
        if self.rng.random() < TYPO_RATE:
            text = self._typo(text)
        return text

    def _typo(self, text: str) -> str:
        """One slip: two neighbouring letters swapped, a letter doubled or a letter left out."""
        letters = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
        if not letters:
            return text
        i = letters[int(self.rng.integers(len(letters)))]
        kind = int(self.rng.integers(3))
        if kind == 0:
            return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        if kind == 1:
            return text[: i + 1] + text[i] + text[i + 1 :]
        return text[:i] + text[i + 1 :]
