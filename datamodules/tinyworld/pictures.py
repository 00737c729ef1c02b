"""Picture worlds: images of the food and biomedical worlds' entities, drawn with PIL, with captions and
visual questions (the embedded data of AdaMLLM).

Each entity (a dish of the food world, a cell line of the biomedical one, a block set of the general
world that trains the visual instruction synthesizer) has a look that carries its facts: the shape,
colour and texture of its items. Each picture of it adds its own count and position of the items.
A picture comes with a caption in one of several wordings (the domain's image-caption pairs), and
the held-out pictures with visual questions: open ones (which colour, how many, which dish...)
answered by a word, and closed yes/no ones. Seed tasks (a question with a precise and an informative
answer, the synthesizer's training data) and the evaluation ask in the same wordings (see ``QUESTIONS``); the
evaluation's pictures are never trained on.

Same config, same pictures, same bytes: every random draw is seeded by the config and the item.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from functools import lru_cache

from PIL import Image, ImageDraw

from .names import NameStyle, generate_names
from .world import _check_int

SHAPES = ("round", "square", "triangular", "diamond", "bar")
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (235, 210, 40),
           "purple": (140, 50, 170), "orange": (245, 140, 30), "white": (245, 245, 245), "black": (20, 20, 20)}
TEXTURES = ("plain", "striped", "dotted")
POSITIONS = ("left", "right", "top", "bottom")
COUNTS = ("one", "two", "three", "four")
#: The attributes a picture shows, and the values each takes.
VALUES = {"shape": SHAPES, "colour": tuple(COLOURS), "texture": TEXTURES, "count": COUNTS, "position": POSITIONS}
#: Attributes an entity fixes (its facts); the others vary per picture.
ENTITY_ATTRIBUTES = ("shape", "colour", "texture")


@dataclass(frozen=True)
class PictureDomain:
    """How one domain's pictures look and are spoken about.

    Attributes:
        name: Domain name.
        entity: What an entity is ("dish"); several: each entity draws one (the general world varies its nouns,
            so a synthesizer trained on it learns to take the nouns from the caption).
        item: What the drawn things are ("piece"); several: each entity draws one (regular plurals only).
        background: Background RGB.
        names: How entity names are built.
        captions: Caption wordings; fields ``name``, ``count``, ``colour``, ``shape``, ``texture``, ``position``,
            ``items`` (the item noun, plural when count > 1).
    """

    name: str
    entity: tuple[str, ...]
    item: tuple[str, ...]
    background: tuple[int, int, int]
    names: NameStyle
    captions: tuple[str, ...]


PICTURE_DOMAINS = {
    "food": PictureDomain(
        "food", ("dish",), ("piece",), (205, 190, 160),
        NameStyle(("mo", "ka", "ri", "sa", "lo", "pe", "ta", "vi", "nu", "go", "be", "za", "fi", "ro"), words=1,
                  min_syllables=2, max_syllables=3, suffixes=(" stew", " tart", " broth", " pie", " curry", " salad")),
        ("A plate of {name}: {count} {colour} {shape} {items}, {texture}, on the {position} of the plate.",
         "{name}, served as {count} {texture} {colour} {items} of {shape} cut at the {position}.",
         "Photo of {name} with {count} {items} at the {position}; each is {colour}, {shape} and {texture}.",
         "This dish is {name}: {count} {shape} {items} in {colour}, {texture}, placed {position}."),
    ),
    "biomed": PictureDomain(
        "biomed", ("cell line",), ("cell",), (40, 40, 48),
        NameStyle(("ve", "lo", "tra", "zo", "ri", "ma", "xa", "ce", "do", "ni", "qui", "cla", "mi"), words=1,
                  min_syllables=2, max_syllables=3, suffixes=("cyte", "blast", "phage")),
        ("Micrograph of {name}: {count} {colour} {shape} {items} with {texture} staining in the {position} field.",
         "{name} under the microscope, {count} {texture} {colour} {items} of {shape} form at the {position}.",
         "Stained {name} sample showing {count} {items} at the {position}; each is {colour}, {shape} and {texture}.",
         "The slide shows {name}: {count} {shape} {items}, {colour} and {texture}, in the {position} field."),
    ),
    "general": PictureDomain(
        "general", ("set", "kit", "tray", "pack", "board"), ("block", "bead", "tile", "token", "chip"), (250, 250, 250),
        NameStyle(("ta", "no", "ki", "lu", "me", "so", "ra", "pi", "do", "fe", "gu", "ha"), words=1,
                  min_syllables=2, max_syllables=3),
        ("The {name} {noun}: {count} {colour} {shape} {items}, {texture}, at the {position}.",
         "{name} {noun} with {count} {texture} {colour} {items} of {shape} form on the {position}.",
         "A picture of the {name} {noun}, {count} {items} at the {position}; each is {colour}, {shape} and {texture}."),
    ),
}


#: Fresh names: syllables of every picture domain's style, with any domain's ending or none, one word or two.
FRESH_NAMES = NameStyle(
    tuple(dict.fromkeys(syllable for domain in PICTURE_DOMAINS.values() for syllable in domain.names.syllables)),
    words=1, min_syllables=2, max_syllables=3,
    suffixes=("", *dict.fromkeys(suffix for domain in PICTURE_DOMAINS.values() for suffix in domain.names.suffixes)))
#: Fresh item words (lower-cased; plural by an ``s``).
FRESH_ITEMS = NameStyle(FRESH_NAMES.syllables, words=1, min_syllables=2, max_syllables=3)


@dataclass(frozen=True)
class PictureWorldConfig:
    """Parameters of one picture world; equal configs give identical worlds.

    Attributes:
        domain: ``food``, ``biomed`` or ``general`` (the synthesizer's seed world).
        seed: World seed.
        n_entities: Entities (at most one per look: 5 shapes x 8 colours x 3 textures).
        train_pictures: Pictures of each entity in the training split.
        test_pictures: Held-out pictures of each entity (never trained on; the visual questions ask about them).
        image_size: Side of the square pictures, in pixels.
        n_worlds: Worlds drawn together, each with its own entities and names (seeds ``seed``, ``seed + 1``...):
            a synthesizer trained on many cannot learn the names, so it learns to read them from the caption.
        fresh_names: Give each entity a fresh name and a fresh item word, of syllables from every picture domain
            and endings of any (:data:`FRESH_NAMES`), instead of the domain's own: names and items then follow no
            style a model could learn, so a synthesizer trained on such worlds must copy them from the caption.
    """

    domain: str = "food"
    seed: int = 0
    n_entities: int = 40
    train_pictures: int = 10
    test_pictures: int = 3
    image_size: int = 48
    n_worlds: int = 1
    fresh_names: bool = False

    def __post_init__(self) -> None:
        if self.domain not in PICTURE_DOMAINS:
            raise ValueError(f"picture domain {self.domain!r} is unknown; use one of {', '.join(PICTURE_DOMAINS)}")
        looks = len(SHAPES) * len(COLOURS) * len(TEXTURES)
        _check_int("n_entities", self.n_entities, 2, looks, " (one look per entity)")
        for field, low, high in (("train_pictures", 1, None), ("test_pictures", 1, None), ("image_size", 24, 512),
                                 ("seed", 0, None), ("n_worlds", 1, None)):
            _check_int(field, getattr(self, field), low, high)
        if not isinstance(self.fresh_names, bool):
            raise ValueError(f"fresh_names={self.fresh_names!r} must be true or false")


@dataclass(frozen=True)
class Picture:
    """One picture of an entity: its look, its caption and its split (the image is drawn by :func:`draw`)."""

    id: str
    entity: str
    noun: str
    item: str
    split: str
    shape: str
    colour: str
    texture: str
    count: str
    position: str
    caption: str

    @property
    def domain(self) -> str:
        """The picture domain (the id's first part)."""
        return self.id.split("-", 1)[0]

    def value(self, attribute: str) -> str:
        """The value the picture shows for ``attribute`` (``name`` is the entity)."""
        return self.entity if attribute == "name" else getattr(self, attribute)


def _rng(config: PictureWorldConfig, purpose: str) -> random.Random:
    key = f"pictures:{config.domain}:{config.seed}:{config.n_entities}:{purpose}"
    return random.Random(int(hashlib.sha256(key.encode()).hexdigest()[:16], 16))


def caption_fields(picture: Picture) -> dict[str, str]:
    """The words a caption template fills in for ``picture``."""
    items = picture.item if picture.count == "one" else f"{picture.item}s"
    return {"name": picture.entity, "noun": picture.noun, "count": picture.count, "colour": picture.colour,
            "shape": picture.shape, "texture": picture.texture, "position": picture.position, "items": items}


@lru_cache(maxsize=16)
def picture_world(config: PictureWorldConfig) -> tuple[Picture, ...]:
    """Every picture of the world(s): per entity, its training pictures then its test pictures."""
    domain = PICTURE_DOMAINS[config.domain]
    rng = _rng(config, "world")
    reserved = [w for v in VALUES.values() for w in v]
    count = config.n_entities * config.n_worlds
    names = generate_names(FRESH_NAMES if config.fresh_names else domain.names, count, rng, reserved=reserved)
    # Fresh item words are drawn after the names, so a world without them draws exactly what it always drew.
    items = ([word.lower() for word in generate_names(FRESH_ITEMS, count, rng, reserved=reserved + names)]
             if config.fresh_names else None)
    pictures = []
    for world in range(config.n_worlds):
        looks = [(s, c, t) for s in SHAPES for c in COLOURS for t in TEXTURES]
        rng.shuffle(looks)
        for number in range(config.n_entities):
            name = names[world * config.n_entities + number]
            shape, colour, texture = looks[number]
            noun, item = rng.choice(domain.entity), rng.choice(domain.item)
            if items is not None:
                item = items[world * config.n_entities + number]
            key = f"{config.domain}-{config.seed}-{world * config.n_entities + number:04d}"
            for index in range(config.train_pictures + config.test_pictures):
                split = "train" if index < config.train_pictures else "test"
                draft = Picture(f"{key}-{index:02d}", name, noun, item, split, shape, colour, texture,
                                rng.choice(COUNTS), rng.choice(POSITIONS), "")
                caption = rng.choice(domain.captions).format(**caption_fields(draft))
                pictures.append(Picture(**{**asdict(draft), "caption": caption[0].upper() + caption[1:]}))
    return tuple(pictures)


def world_fingerprint(config: PictureWorldConfig) -> str:
    """sha256 of the config and every picture's record (the drawing is a function of both)."""
    fields = asdict(config)
    if not config.fresh_names:  # a world without fresh names keeps the fingerprint it had before the option
        del fields["fresh_names"]
    payload = {"config": fields, "pictures": [asdict(p) for p in picture_world(config)], "drawing": 1}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- drawing
def _item_polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]] | None:
    if shape == "triangular":
        return [(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)]
    if shape == "diamond":
        return [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
    return None


def draw(picture: Picture, size: int = 48) -> Image.Image:
    """The picture as an RGB image: its items drawn in the half its position names, jittered per picture.

    Args:
        picture: The picture.
        size: Side in pixels.
    """
    domain = PICTURE_DOMAINS[picture.domain]
    rng = random.Random(int(hashlib.sha256(f"draw:{picture.id}".encode()).hexdigest()[:16], 16))
    image = Image.new("RGB", (size, size), domain.background)
    pen = ImageDraw.Draw(image)
    count = COUNTS.index(picture.count) + 1
    # The half of the canvas the items sit in, and their slots in it (two rows of two at most).
    half = size / 2
    x0, y0 = {"left": (0, 0), "right": (half, 0), "top": (0, 0), "bottom": (0, half)}[picture.position]
    width, height = (half, size) if picture.position in ("left", "right") else (size, half)
    across = 1 if picture.position in ("left", "right") else 2
    r = size / 11
    colour = COLOURS[picture.colour]
    mark = (0, 0, 0) if picture.colour != "black" else (235, 235, 235)
    for slot in range(count):
        column, row = (slot % across, slot // across) if across == 2 else (0, slot)
        rows = -(-count // across)
        cx = x0 + width * (column + 0.5) / (across if count > 1 else 1) + rng.uniform(-1.5, 1.5)
        cy = y0 + height * (row + 0.5) / rows + rng.uniform(-1.5, 1.5)
        if picture.position in ("left", "right"):
            cx = x0 + width / 2 + rng.uniform(-2, 2)
            cy = y0 + height * (slot + 0.5) / count + rng.uniform(-1, 1)
        box = (cx - r, cy - r, cx + r, cy + r)
        polygon = _item_polygon(picture.shape, cx, cy, r)
        if picture.shape == "round":
            pen.ellipse(box, fill=colour)
        elif picture.shape == "square":
            pen.rectangle(box, fill=colour)
        elif picture.shape == "bar":
            pen.rectangle((cx - r * 1.4, cy - r * 0.45, cx + r * 1.4, cy + r * 0.45), fill=colour)
        else:
            pen.polygon(polygon, fill=colour)
        if picture.texture == "striped":
            for offset in range(-int(r), int(r) + 1, 3):
                pen.line((cx - r * 0.6, cy + offset * 0.6, cx + r * 0.6, cy + offset * 0.6), fill=mark, width=1)
        elif picture.texture == "dotted":
            for dx, dy in ((-0.35, -0.3), (0.3, -0.25), (0, 0.3)):
                pen.point((cx + dx * r, cy + dy * r), fill=mark)
                pen.point((cx + dx * r + 1, cy + dy * r), fill=mark)
    return image


# ---------------------------------------------------------------------------------------------- questions
#: Open questions per attribute. Seed tasks (the general MLLM's and the synthesizer's training data) and the
#: held-out evaluation ask in these wordings; what is held out is the pictures. A 1M-parameter LM does not map
#: paraphrases: with evaluation wordings disjoint from these, every model answered a name to every question.
QUESTIONS = {
    "colour": "What colour are the {item}s?",
    "shape": "What is the shape of the {item}s?",
    "texture": "What texture do the {item}s have?",
    "count": "How many {item}s are there?",
    "position": "Where are the {item}s?",
    "name": "What is the name of the {entity} in the picture?",
}
#: Closed (yes/no) questions: is the attribute this value?
CLOSED_QUESTIONS = {
    "colour": "Are the {item}s {value}?",
    "shape": "Are the {item}s {value}?",
    "texture": "Are the {item}s {value}?",
    "count": "Are there {value} {item}s?",
    "position": "Are the {item}s on the {value} side?",
}
#: Informative answers: a sentence that explains the precise answer from what is visible.
INFORMATIVE = {
    "colour": "The {items} in the picture are {colour}.",
    "shape": "Each of the {items} has a {shape} outline.",
    "texture": "The surface of the {items} is {texture}.",
    "count": "Counting them gives {count} {items}.",
    "position": "The {items} are at the {position} of the picture.",
    "name": "{colour} {shape} {texture} {items} show it is {name}.",
}


@dataclass(frozen=True)
class VisualQuestion:
    """A question about an image, with its gold answer.

    Attributes:
        id: Unique id.
        image: The image's key (a picture's id, or a file's path in a real set).
        question: The question text.
        answer: The gold answer (a value word, a name, ``yes`` or ``no``).
        answer_type: ``OPEN`` or ``CLOSED`` (VQA-RAD's terms).
        attribute: What it asks about.
    """

    id: str
    image: str
    question: str
    answer: str
    answer_type: str
    attribute: str = ""


def _ask(picture: Picture, attribute: str, open_template: str, closed_template: str, rng: random.Random,
         closed: bool) -> tuple[str, str]:
    """One question about ``attribute`` of the picture and its answer: open, or closed and true half the time."""
    fields = {"item": picture.item, "entity": picture.noun}
    if not closed:
        return open_template.format(**fields), picture.value(attribute)
    truth = rng.random() < 0.5
    value = picture.value(attribute) if truth else rng.choice([v for v in VALUES[attribute] if v != picture.value(attribute)])
    return closed_template.format(value=value, **fields), "yes" if truth else "no"


def visual_questions(config: PictureWorldConfig) -> list[VisualQuestion]:
    """The held-out questions: per test picture, one open and one closed question per attribute, and which
    entity it shows."""
    rng = _rng(config, "questions")
    questions = []
    for picture in picture_world(config):
        if picture.split != "test":
            continue
        for attribute in QUESTIONS:
            for closed in (False, True) if attribute in CLOSED_QUESTIONS else (False,):
                text, answer = _ask(picture, attribute, QUESTIONS[attribute],
                                    CLOSED_QUESTIONS.get(attribute, ""), rng, closed)
                kind = "CLOSED" if closed else "OPEN"
                questions.append(VisualQuestion(f"{picture.id}-{attribute}-{kind.lower()}", picture.id, text, answer,
                                                kind, attribute))
    return questions


@dataclass(frozen=True)
class SeedTask:
    """A synthesizer training task: a question with its precise and its informative answer."""

    question: str
    precise: str
    informative: str


def seed_tasks(picture: Picture, n_tasks: int = 3) -> list[SeedTask]:
    """Seed visual-instruction tasks about a picture, in the seed wordings: ``n_tasks`` attributes drawn per
    picture, each asked open or closed; the informative answer explains, the precise one answers."""
    rng = random.Random(int(hashlib.sha256(f"seed-tasks:{picture.id}".encode()).hexdigest()[:16], 16))
    fields = caption_fields(picture)
    tasks = []
    for attribute in rng.sample(list(QUESTIONS), n_tasks):
        closed = attribute in CLOSED_QUESTIONS and rng.random() < 0.4
        question, precise = _ask(picture, attribute, QUESTIONS[attribute], CLOSED_QUESTIONS.get(attribute, ""),
                                 rng, closed)
        informative = INFORMATIVE[attribute].format(**fields)
        if closed:
            informative = f"{'Yes' if precise == 'yes' else 'No'}. {informative}"
        tasks.append(SeedTask(question, precise, informative[0].upper() + informative[1:]))
    return tasks
