"""Word pools for generated names: a small business vocabulary plus Faker's word lists for volume.

Only Faker's static word lists are read (no Faker instance), so building the pools costs microseconds.
"""

from __future__ import annotations

from functools import cache

# Business areas (app labels) and entities (models): what real Django projects are made of.
AREAS = (
    "billing", "inventory", "shipping", "catalog", "customers", "orders", "payments", "accounts", "crm",
    "support", "marketing", "reporting", "analytics", "warehouse", "procurement", "suppliers", "pricing",
    "promotions", "loyalty", "reviews", "content", "blog", "events", "bookings", "scheduling", "staff", "payroll",
    "projects", "tasks", "documents", "contracts", "compliance", "audit", "notifications", "messaging",
    "subscriptions", "invoicing", "logistics", "fleet", "returns", "tickets", "surveys", "learning", "courses",
    "healthcare", "patients", "insurance", "claims", "properties", "leasing", "maintenance", "assets",
    "manufacturing", "quality", "sales", "leads", "partners", "vendors", "checkout", "carts", "media",
    "galleries", "newsletters", "forums", "membership", "donations", "grants", "budgets", "expenses", "treasury",
    "taxes", "ledger", "banking", "trading", "portfolio", "research", "laboratory", "recruiting", "onboarding",
)  # fmt: skip

ENTITIES = (
    "invoice", "order", "shipment", "customer", "product", "category", "supplier", "warehouse", "payment",
    "refund", "account", "address", "contact", "employee", "department", "project", "task", "ticket", "comment",
    "review", "rating", "coupon", "discount", "campaign", "lead", "opportunity", "contract", "document",
    "attachment", "event", "booking", "reservation", "room", "vehicle", "route", "driver", "carrier", "parcel",
    "batch", "lot", "item", "line", "entry", "transaction", "transfer", "budget", "expense", "receipt", "tax",
    "rate", "price", "plan", "subscription", "membership", "member", "course", "lesson", "enrollment", "grade",
    "patient", "appointment", "claim", "policy", "property", "lease", "tenant", "asset", "inspection", "report",
    "survey", "question", "answer", "message", "notification", "channel", "article", "page", "tag", "image",
    "video", "playlist", "album", "venue", "sponsor", "donation", "grant", "milestone", "sprint", "release",
    "feature", "issue", "vendor", "quote", "proposal", "deal", "pipeline", "stage", "region", "store", "shelf",
    "bin", "stock", "movement", "adjustment", "count", "profile", "preference", "session", "device", "license",
)  # fmt: skip

QUALIFIERS = (
    "shipping", "billing", "customer", "sales", "purchase", "stock", "price", "tax", "payment", "delivery",
    "return", "order", "product", "service", "support", "user", "team", "project", "time", "credit", "debit",
    "loyalty", "gift", "bank", "cost", "asset", "inventory", "supplier", "vendor", "contract", "event", "media",
    "content", "report", "audit", "quality", "training", "member", "partner", "account", "budget", "expense",
    "promo", "rental", "leave", "travel", "fleet", "route", "access", "approval",
)  # fmt: skip

FIELD_WORDS = (
    "title", "name", "description", "amount", "total", "quantity", "status", "code", "reference", "notes",
    "price", "cost", "weight", "height", "width", "priority", "level", "score", "rank", "label", "summary",
    "email", "phone", "website", "address", "city", "country", "postcode", "currency", "balance", "discount",
    "margin", "duration", "capacity", "color", "size", "language", "timezone", "source", "channel", "kind",
    "category", "region", "version", "position", "sequence", "comment", "message", "subject", "body", "due",
    "start", "end", "opened", "closed", "published", "expires", "approved", "verified", "archived", "featured",
)  # fmt: skip


@cache
def faker_nouns() -> tuple[str, ...]:
    """Faker's company nouns ("architecture", "deliverables", …): realistic words for volume."""
    from faker.providers.company.en_US import Provider as Company

    return _unique_words(list(Company.catch_phrase_words[2]) + list(Company.bsWords[2]))


@cache
def faker_lorem() -> tuple[str, ...]:
    """Faker's ~1,000 English lorem words: the last resort for projects with thousands of apps."""
    from faker.providers.lorem.en_US import Provider as Lorem

    return _unique_words(Lorem.word_list)


def _unique_words(words) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for word in words:
        if word.isalpha() and len(word) > 2:
            seen.setdefault(word.lower(), None)
    return tuple(seen)


def area_words() -> tuple[str, ...]:
    """App labels in order of preference: business areas, then Faker nouns, then lorem words."""
    return _unique_words(AREAS + faker_nouns() + faker_lorem())


def entity_words() -> tuple[str, ...]:
    return _unique_words(ENTITIES + faker_nouns())


def field_words() -> tuple[str, ...]:
    return _unique_words(FIELD_WORDS + ENTITIES + faker_nouns())
