"""Generated comments for the analysis benchmark: varied sentences in the four languages (themes, tone,
inflections, missing accents), so the engine does the work real comments give it."""

from __future__ import annotations

import random

PARTS = {
    "en": {
        "bad": ["The deliveries were late again", "They charged me twice on the invoice", "Nobody answered my tickets",
                "The product broke after a week", "The app keeps crashing at checkout", "Waited on hold for an hour"],
        "good": ["Friendly and helpful staff", "Great quality products", "Fast delivery, well packed",
                 "Easy to use website", "Our account manager is excellent", "Refund processed quickly"],
        "tail": ["", " Thanks.", " Will see next time.", " Not happy at all.", " Really impressed!", " ok"],
    },
    "es": {
        "bad": ["Las entregas llegaron atrasadas", "Me cobraron dos veces en la factura", "La atencion al cliente no responde",
                "El producto vino defectuoso", "La aplicación se cuelga siempre", "Demasiada espera al teléfono"],
        "good": ["Personal muy amable", "Productos de excelente calidad", "Entrega rápida y bien embalada",
                 "La web es muy fácil de usar", "El gestor de cuenta es excelente", "Reembolso muy rápido"],
        "tail": ["", " Gracias.", " Veremos la próxima.", " Nada contento.", " ¡Muy bien!", " ok"],
    },
    "pt": {
        "bad": ["A entrega chegou atrasada", "Cobraram duas vezes na fatura", "O atendimento nunca responde",
                "O produto veio com defeito", "O aplicativo trava toda hora", "Fiquei muito tempo na fila"],
        "good": ["Funcionários muito educados", "Produtos de ótima qualidade", "Entrega rápida e bem embalada",
                 "Site fácil de usar", "O gerente de conta é excelente", "Reembolso muito rápido"],
        "tail": ["", " Obrigado.", " Veremos.", " Nada satisfeito.", " Adorei!", " ok"],
    },
    "fr": {
        "bad": ["Les livraisons sont toujours en retard", "Facturé deux fois ce mois-ci", "Le service client ne répond jamais",
                "Le produit est arrivé cassé", "L'application plante sans arrêt", "Trop d'attente au téléphone"],
        "good": ["Personnel très aimable", "Produits de très bonne qualité", "Livraison rapide et soignée",
                 "Site facile à utiliser", "Notre conseiller est excellent", "Remboursement rapide"],
        "tail": ["", " Merci.", " On verra.", " Pas content du tout.", " Parfait !", " ok"],
    },
}  # fmt: skip


def generated_comment(rng: random.Random, language: str, nps: int) -> str:
    parts = PARTS[language]
    pool = parts["bad"] if nps <= 6 else parts["good"] if nps >= 9 else parts["bad"] + parts["good"]
    first, second = rng.sample(pool, 2)
    text = f"{first}. {second.lower() if rng.random() < 0.5 else second}.{rng.choice(parts['tail'])}"
    return text.upper() if rng.random() < 0.03 else text
