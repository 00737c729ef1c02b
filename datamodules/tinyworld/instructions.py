"""Instruction data of tinyworld: general instruction-response texts, and the synthesizer's questions.

The first part (:func:`general_instructions`) is general instruction data to mix with domain
reading-comprehension data; the second (:data:`SYNTHESIZER_QUESTIONS`, :func:`synthesizer_pairs`)
words the question/answer pairs an instruction synthesizer is fine-tuned on.

AdaptLLM continues pre-training on reading-comprehension texts mixed with
general instruction data (about 1:1), which keeps the model able to follow
prompts. This module is that general part for tinyworld-sized models: short,
verifiable tasks (arithmetic, counting, sorting, reversing, odd one out,
antonyms, sequences, list formatting, ...) whose responses are computed by
code. The vocabulary is built in and shares no entity name or attribute value
with any tinyworld domain, so mixing adds prompting skill but no world facts.

Every instruction keeps its variable parts in numbers, in double quotes or
after its colon, so that one phrasing is one template once those are masked.

The instruction synthesizer (Instruction Pre-Training) learns to write questions from its training
pairs, and a model pre-trained on what it writes reads them. Were those the wordings the evaluation
asks with (``Attribute.questions``, tinyworld's question task), both would have seen every template
of the test, so the synthesizer's pairs are worded with their own questions, three per attribute,
none of them an evaluation template (checked with the contamination check's template rule).

Example:
    >>> from datamodules.tinyworld import general_instructions
    >>> records = general_instructions(n=2000, seed=0)
    >>> records[0]["id"]
    'instructions-s0-000000'
"""

import random
import string
from collections.abc import Callable
from dataclasses import dataclass

from .domain import DOMAINS
from .world import World

# Groups of everyday words; no word is in two groups, so "odd one out" has one answer.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "animals": ("cat", "dog", "horse", "rabbit", "tiger", "sheep", "goat", "mouse", "eagle", "whale", "frog", "duck"),
    "fruits": ("apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear", "plum", "melon", "kiwi", "fig"),
    "colours": ("red", "blue", "green", "yellow", "purple", "brown", "black", "white", "pink", "grey"),
    "vehicles": ("car", "bus", "train", "bicycle", "truck", "boat", "tractor", "scooter", "van", "taxi"),
    "clothes": ("shirt", "hat", "sock", "coat", "scarf", "glove", "boot", "jacket", "skirt", "belt"),
    "furniture": ("chair", "table", "sofa", "bed", "desk", "shelf", "stool", "bench", "cupboard", "wardrobe"),
}
WORDS = tuple(sorted(word for group in CATEGORIES.values() for word in group))
# Each word appears once, so a question about it has exactly one expected answer.
ANTONYMS = (
    ("hot", "cold"), ("big", "small"), ("fast", "slow"), ("happy", "sad"), ("early", "late"), ("light", "dark"),
    ("open", "closed"), ("full", "empty"), ("high", "low"), ("hard", "soft"), ("young", "old"), ("rich", "poor"),
    ("wet", "dry"), ("loud", "quiet"), ("strong", "weak"), ("long", "short"), ("push", "pull"), ("win", "lose"),
    ("true", "false"), ("near", "far"), ("thick", "thin"), ("clean", "dirty"), ("up", "down"), ("inside", "outside"),
)
SYNONYMS = (
    ("begin", "start"), ("finish", "complete"), ("glad", "pleased"), ("angry", "cross"), ("shut", "close"),
    ("buy", "purchase"), ("smart", "clever"), ("tired", "sleepy"), ("gift", "present"), ("road", "street"),
    ("quick", "rapid"), ("talk", "speak"), ("large", "huge"), ("little", "tiny"), ("shout", "yell"),
    ("look", "see"), ("hide", "conceal"), ("choose", "pick"),
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Sentence parts for the counting, copying and case tasks.
_ADJECTIVES = ("small", "old", "happy", "quiet", "brown", "lazy", "young", "tired")
_VERBS = ("sleeps", "waits", "sits", "jumps", "hides", "rests", "plays", "stands")
_PLACES = ("near the", "under the", "beside the", "behind the", "on the")


@dataclass(frozen=True)
class Skill:
    """One kind of task with several phrasings that share its fields and response.

    Attributes:
        name: short identifier, e.g. "add".
        phrasings: instruction templates over the fields that ``make`` returns.
        make: draws (fields, response) from a random stream.
    """

    name: str
    phrasings: tuple[str, ...]
    make: Callable[[random.Random], tuple[dict[str, object], str]]


def _join(items) -> str:
    return ", ".join(str(item) for item in items)


def _yes_no(condition: bool) -> str:
    return "Yes" if condition else "No"


def _two_numbers(rng: random.Random, low: int = 2, high: int = 99) -> tuple[int, int]:
    """Draws two different numbers, so comparisons never tie."""
    a, b = rng.sample(range(low, high + 1), 2)
    return a, b


def _sentence(rng: random.Random) -> str:
    """Builds a short sentence of 3 to 7 words, e.g. "The lazy dog sleeps near the sofa."."""
    words = ["The"]
    if rng.random() < 0.5:
        words.append(rng.choice(_ADJECTIVES))
    words += [rng.choice(CATEGORIES["animals"]), rng.choice(_VERBS)]
    if rng.random() < 0.6:
        words += [*rng.choice(_PLACES).split(), rng.choice(CATEGORIES["furniture"])]
    return " ".join(words) + "."


def _words(rng: random.Random, low: int = 3, high: int = 5) -> list[str]:
    return rng.sample(WORDS, rng.randint(low, high))


def _numbers(rng: random.Random, low: int = 3, high: int = 6) -> list[int]:
    return rng.sample(range(1, 100), rng.randint(low, high))


def _add(rng):
    a, b = _two_numbers(rng)
    return {"a": a, "b": b}, str(a + b)


def _subtract(rng):
    a, b = sorted(_two_numbers(rng), reverse=True)
    return {"a": a, "b": b}, str(a - b)


def _multiply(rng):
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    return {"a": a, "b": b}, str(a * b)


def _double(rng):
    n = rng.randint(2, 60)
    return {"n": n}, str(2 * n)


def _half(rng):
    n = 2 * rng.randint(2, 60)
    return {"n": n}, str(n // 2)


def _greater(rng):
    a, b = _two_numbers(rng)
    return {"a": a, "b": b}, _yes_no(a > b)


def _less(rng):
    a, b = _two_numbers(rng)
    return {"a": a, "b": b}, _yes_no(a < b)


def _bigger(rng):
    a, b = _two_numbers(rng)
    return {"a": a, "b": b}, str(max(a, b))


def _smaller(rng):
    a, b = _two_numbers(rng)
    return {"a": a, "b": b}, str(min(a, b))


def _even(rng):
    n = rng.randint(1, 99)
    return {"n": n}, _yes_no(n % 2 == 0)


def _odd(rng):
    n = rng.randint(1, 99)
    return {"n": n}, _yes_no(n % 2 == 1)


def _largest(rng):
    numbers = _numbers(rng)
    return {"items": _join(numbers)}, str(max(numbers))


def _smallest(rng):
    numbers = _numbers(rng)
    return {"items": _join(numbers)}, str(min(numbers))


def _sum_list(rng):
    numbers = rng.sample(range(1, 30), rng.randint(3, 4))
    return {"items": _join(numbers)}, str(sum(numbers))


def _count_letters(rng):
    word = rng.choice(WORDS)
    return {"w": word}, str(len(word))


def _count_letter(rng):
    word = rng.choice(WORDS)
    # Mostly a letter of the word; sometimes one it lacks, so that 0 is a possible answer.
    letter = rng.choice(word if rng.random() < 0.8 else string.ascii_lowercase)
    return {"c": letter, "w": word}, str(word.count(letter))


def _count_words(rng):
    sentence = _sentence(rng)
    return {"s": sentence}, str(len(sentence.split()))


def _count_items(rng):
    words = _words(rng, 2, 7)
    return {"items": _join(words)}, str(len(words))


def _first_letter(rng):
    word = rng.choice(WORDS)
    return {"w": word}, word[0]


def _last_letter(rng):
    word = rng.choice(WORDS)
    return {"w": word}, word[-1]


def _reverse_word(rng):
    word = rng.choice(WORDS)
    return {"w": word}, word[::-1]


def _reverse_list(rng):
    words = _words(rng)
    return {"items": _join(words)}, _join(reversed(words))


def _sort_words(rng):
    words = _words(rng)
    return {"items": _join(words)}, _join(sorted(words))


def _sort_ascending(rng):
    numbers = _numbers(rng)
    return {"items": _join(numbers)}, _join(sorted(numbers))


def _sort_descending(rng):
    numbers = _numbers(rng)
    return {"items": _join(numbers)}, _join(sorted(numbers, reverse=True))


def _odd_one_out(rng):
    group, other = rng.sample(sorted(CATEGORIES), 2)
    odd = rng.choice(CATEGORIES[other])
    words = [*rng.sample(CATEGORIES[group], 3), odd]
    rng.shuffle(words)
    return {"items": _join(words)}, f"{odd}. The others are {group}."


def _common_group(rng):
    group = rng.choice(sorted(CATEGORIES))
    return {"items": _join(rng.sample(CATEGORIES[group], 4))}, f"They are all {group}."


def _upper_word(rng):
    word = rng.choice(WORDS)
    return {"w": word}, word.upper()


def _upper_text(rng):
    sentence = _sentence(rng)
    return {"s": sentence}, sentence.upper()


def _lower_text(rng):
    sentence = _sentence(rng)
    return {"s": sentence.upper()}, sentence.lower()


def _copy_text(rng):
    sentence = _sentence(rng)
    return {"s": sentence}, sentence


def _pair_lookup(pairs):
    """Makes a task that asks for the partner of either word of a random pair."""

    def make(rng):
        pair = rng.choice(pairs)
        index = rng.randrange(2)
        return {"w": pair[index]}, pair[1 - index]

    return make


def _next_in_sequence(rng):
    start, step = rng.randint(1, 30), rng.randint(2, 9)
    terms = [start + step * k for k in range(5)]
    return {"items": _join(terms[:4])}, str(terms[4])


def _count_up(rng):
    a = rng.randint(1, 90)
    b = a + rng.randint(3, 8)
    return {"a": a, "b": b}, _join(range(a, b + 1))


def _count_down(rng):
    a = rng.randint(1, 90)
    b = a + rng.randint(3, 8)
    return {"a": a, "b": b}, _join(range(b, a - 1, -1))


def _neighbour(sequence, offset, wrap):
    """Makes a task that asks for the item ``offset`` places after a random item of a sequence.

    Args:
        sequence: the ordered items, e.g. the alphabet or the days of the week.
        offset: +1 for "after", -1 for "before".
        wrap: whether the sequence is cyclic (weeks, years) or has ends (the alphabet).
    """

    def make(rng):
        indices = range(len(sequence)) if wrap else range(max(0, -offset), len(sequence) - max(0, offset))
        index = rng.choice(indices)
        return {"x": sequence[index]}, sequence[(index + offset) % len(sequence)]

    return make


def _numbered_list(rng):
    words = _words(rng)
    return {"items": _join(words)}, "\n".join(f"{k}. {word}" for k, word in enumerate(words, 1))


def _bulleted_list(rng):
    words = _words(rng)
    return {"items": _join(words)}, "\n".join(f"- {word}" for word in words)


def _comma_join(rng):
    words = _words(rng)
    return {"items": " ".join(words)}, _join(words)


def _longer_word(rng):
    while True:
        a, b = rng.sample(WORDS, 2)
        if len(a) != len(b):
            return {"a": a, "b": b}, max(a, b, key=len)


def _alphabetical_first(rng):
    a, b = rng.sample(WORDS, 2)
    return {"a": a, "b": b}, min(a, b)


SKILLS: tuple[Skill, ...] = (
    Skill(
        "add",
        ("What is {a} plus {b}?", "Add {a} and {b}.", "Compute {a} + {b}.", "Find the sum of {a} and {b}."),
        _add,
    ),
    Skill(
        "subtract",
        ("What is {a} minus {b}?", "Subtract {b} from {a}.", "Compute {a} - {b}.", "How much is {a} take away {b}?"),
        _subtract,
    ),
    Skill(
        "multiply",
        ("What is {a} times {b}?", "Multiply {a} by {b}.", "Compute {a} x {b}.", "What is the product of {a} and {b}?"),
        _multiply,
    ),
    Skill("double", ("What is double {n}?", "What is twice {n}?"), _double),
    Skill("half", ("What is half of {n}?", "Divide {n} by 2."), _half),
    Skill("greater", ("Is {a} greater than {b}? Answer yes or no.", "Is {a} larger than {b}?"), _greater),
    Skill("less", ("Is {a} less than {b}? Answer yes or no.", "Is {a} smaller than {b}?"), _less),
    Skill("bigger", ("Which number is bigger, {a} or {b}?", "Which is the larger number, {a} or {b}?"), _bigger),
    Skill("smaller", ("Which number is smaller, {a} or {b}?", "Which is the lower number, {a} or {b}?"), _smaller),
    Skill("even", ("Is {n} an even number?", "Is {n} even? Answer yes or no."), _even),
    Skill("odd", ("Is {n} an odd number?", "Is {n} odd? Answer yes or no."), _odd),
    Skill(
        "largest",
        ("What is the largest number in this list: {items}?", "Find the biggest number: {items}"),
        _largest,
    ),
    Skill(
        "smallest",
        ("What is the smallest number in this list: {items}?", "Find the lowest number: {items}"),
        _smallest,
    ),
    Skill("sum_list", ("Add up these numbers: {items}", "What is the total of these numbers: {items}?"), _sum_list),
    Skill("count_letters", ('How many letters are in the word "{w}"?', 'Count the letters in "{w}".'), _count_letters),
    Skill(
        "count_letter",
        ('How many times does the letter "{c}" appear in "{w}"?', 'Count how often "{c}" occurs in "{w}".'),
        _count_letter,
    ),
    Skill(
        "count_words",
        ("How many words are in this sentence: {s}", "Count the words in the following sentence: {s}"),
        _count_words,
    ),
    Skill("count_items", ("How many items are in this list: {items}?", "Count the items: {items}"), _count_items),
    Skill("first_letter", ('What is the first letter of "{w}"?', 'Which letter does "{w}" start with?'), _first_letter),
    Skill("last_letter", ('What is the last letter of "{w}"?', 'Which letter does "{w}" end with?'), _last_letter),
    Skill(
        "reverse_word",
        ('Spell "{w}" backwards.', 'Reverse the letters of "{w}".', 'Write "{w}" in reverse.'),
        _reverse_word,
    ),
    Skill(
        "reverse_list",
        ("Write these words in reverse order: {items}", "List these words from last to first: {items}"),
        _reverse_list,
    ),
    Skill(
        "sort_words",
        ("Sort these words alphabetically: {items}", "Put these words in alphabetical order: {items}"),
        _sort_words,
    ),
    Skill(
        "sort_ascending",
        ("Sort these numbers from smallest to largest: {items}", "Arrange in ascending order: {items}"),
        _sort_ascending,
    ),
    Skill(
        "sort_descending",
        ("Sort these numbers from largest to smallest: {items}", "Arrange in descending order: {items}"),
        _sort_descending,
    ),
    Skill(
        "odd_one_out",
        (
            "Which word does not belong: {items}?",
            "Pick the odd one out: {items}",
            "Find the word that does not fit with the others: {items}",
        ),
        _odd_one_out,
    ),
    Skill(
        "common_group",
        ("What do these words have in common: {items}?", "Name the group these words belong to: {items}"),
        _common_group,
    ),
    Skill("upper_word", ('Write "{w}" in capital letters.', 'Convert "{w}" to upper case.'), _upper_word),
    Skill("upper_text", ("Convert this text to upper case: {s}", "Rewrite in capital letters: {s}"), _upper_text),
    Skill("lower_text", ("Convert this text to lower case: {s}", "Rewrite in small letters: {s}"), _lower_text),
    Skill("copy", ("Repeat this sentence exactly: {s}", "Copy the following text: {s}"), _copy_text),
    Skill(
        "antonym",
        (
            'What is the opposite of "{w}"?',
            'Give an antonym for "{w}".',
            'Name a word that means the opposite of "{w}".',
        ),
        _pair_lookup(ANTONYMS),
    ),
    Skill(
        "synonym",
        ('Give a word that means the same as "{w}".', 'What is a synonym of "{w}"?'),
        _pair_lookup(SYNONYMS),
    ),
    Skill("next_number", ("Continue the sequence: {items}", "What number comes next: {items}?"), _next_in_sequence),
    Skill("count_up", ("Count from {a} to {b}.", "List the numbers from {a} to {b}."), _count_up),
    Skill("count_down", ("Count down from {b} to {a}.", "List the numbers from {b} down to {a}."), _count_down),
    Skill(
        "letter_after",
        ('What letter comes after "{x}" in the alphabet?', 'Which letter follows "{x}"?'),
        _neighbour(string.ascii_lowercase, 1, wrap=False),
    ),
    Skill(
        "letter_before",
        ('What letter comes before "{x}" in the alphabet?',),
        _neighbour(string.ascii_lowercase, -1, wrap=False),
    ),
    Skill(
        "day_after",
        ('What day of the week comes after "{x}"?', 'Which day follows "{x}"?'),
        _neighbour(DAYS, 1, wrap=True),
    ),
    Skill(
        "month_after",
        ('Which month comes after "{x}"?', 'What month follows "{x}"?'),
        _neighbour(MONTHS, 1, wrap=True),
    ),
    Skill(
        "numbered_list",
        ("Write these items as a numbered list: {items}", "Number these items: {items}"),
        _numbered_list,
    ),
    Skill(
        "bulleted_list",
        ("Make a bulleted list of these items: {items}", "Format these items as bullet points: {items}"),
        _bulleted_list,
    ),
    Skill(
        "comma_join",
        ("Separate these words with commas: {items}", "Rewrite this as a comma-separated list: {items}"),
        _comma_join,
    ),
    Skill(
        "longer_word",
        ('Which word is longer, "{a}" or "{b}"?', 'Which word has more letters, "{a}" or "{b}"?'),
        _longer_word,
    ),
    Skill(
        "alphabetical_first",
        (
            'Which word comes first in the alphabet, "{a}" or "{b}"?',
            'Which comes first in a dictionary, "{a}" or "{b}"?',
        ),
        _alphabetical_first,
    ),
)


def general_instructions(n: int = 2000, seed: int = 0) -> list[dict]:
    """Generates instruction-response texts over general skills, deterministically.

    Each text is the instruction, a newline and the response, e.g.
    "What is 17 plus 25?\\n42". Skills and phrasings are drawn uniformly.

    Args:
        n: number of texts.
        seed: the random seed; equal (n, seed) give identical texts, and a
            smaller n gives a prefix of a larger one.

    Returns:
        ``{"id", "text"}`` dicts with ids "instructions-s<seed>-<index>".

    Raises:
        ValueError: if n is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0 (got {n})")
    # A string seed is hashed with sha512 by random.seed, the same in every process.
    rng = random.Random(f"tinyworld:instructions:{seed}")
    records = []
    for index in range(n):
        skill = rng.choice(SKILLS)
        phrasing = rng.choice(skill.phrasings)
        fields, response = skill.make(rng)
        text = f"{phrasing.format(**fields)}\n{response}"
        records.append({"id": f"instructions-s{seed}-{index:06d}", "text": text})
    return records


def instruction_documents(n: int = 2000, seed: int = 0) -> dict[str, list[str]]:
    """Returns the instruction texts as document columns, for ``datasets.Dataset.from_dict``.

    The columns match the other document sources (id, title, text), so the
    texts can be mixed with reading-comprehension documents.

    Args:
        n: number of texts.
        seed: the random seed (see :func:`general_instructions`).

    Returns:
        ``{"id": [...], "title": [...], "text": [...]}`` with empty titles.
    """
    records = general_instructions(n, seed)
    return {
        "id": [record["id"] for record in records],
        "title": [""] * len(records),
        "text": [record["text"] for record in records],
    }


#: The synthesizer's question wordings: domain -> attribute -> wordings over ``{name}``. Disjoint from
#: the evaluation's ``Attribute.questions``: no wording holds an evaluation template's words in order
#: (its entity may stand for 1 to 4 words), which tests/zoo/test_instruction_pretrain.py checks.
SYNTHESIZER_QUESTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "general": {
        "birth_city": ("Where was {name} born?", "What is the birthplace of {name}?",
                       "Name the city where {name} was born."),
        "profession": ("What job does {name} have?", "What is the profession of {name}?",
                       "What kind of work does {name} do?"),
        "employer": ("Who is the employer of {name}?", "At which firm does {name} have a job?",
                     "Name the company that {name} works for."),
        "university": ("Where did {name} study?", "From which university did {name} graduate?",
                       "Name the school where {name} studied."),
        "hobby": ("What is the favourite pastime of {name}?", "How does {name} spend spare time?",
                  "Which leisure activity does {name} enjoy?"),
        "native_language": ("What is the mother tongue of {name}?", "What language did {name} grow up speaking?",
                            "In what language was {name} raised?"),
    },
    "biomed": {
        "target": ("What is the protein target of {name}?", "To which protein does {name} bind?",
                   "Name the protein that {name} blocks."),
        "condition": ("What is {name} used to treat?", "For which illness is {name} given?",
                      "Name the disease that {name} is used against."),
        "side_effect": ("What is the most common side effect of {name}?", "What problem does {name} often cause?",
                        "Which side effect do patients on {name} report most?"),
        "drug_class": ("What is the drug class of {name}?", "What type of medicine is {name}?",
                       "Which class of drugs includes {name}?"),
        "lab": ("At which laboratory was {name} discovered?", "Who discovered {name}?",
                "Name the institute where {name} was discovered."),
        "approval_country": ("Where was {name} first approved?", "What country first approved {name}?",
                             "In what country was {name} first licensed for sale?"),
    },
    "finance": {
        "sector": ("In which sector does {name} operate?", "What sector is {name} part of?",
                   "What business is {name} in?"),
        "headquarters": ("Where are the headquarters of {name}?", "Which city is home to the head office of {name}?",
                         "In what city is {name} based?"),
        "exchange": ("On which stock exchange is {name} listed?", "Where do shares of {name} trade?",
                     "Which exchange lists {name}?"),
        "chief_executive": ("Who leads {name}?", "Who is the chief executive of {name}?",
                            "Name the chief executive of {name}."),
        "auditor": ("Which firm audits the accounts of {name}?", "Who is the auditor of {name}?",
                    "Name the auditor of {name}."),
        "main_market": ("Where does {name} earn most of its revenue?", "What is the main market of {name}?",
                        "In which region does {name} make most of its sales?"),
    },
    "law": {
        "court": ("Which court decided {name}?", "What court heard {name}?", "Name the court that decided {name}."),
        "area_of_law": ("What area of law is {name} about?", "In which field of law is {name} a leading case?",
                        "Which area of law does {name} belong to?"),
        "remedy": ("Which remedy did the court award in {name}?", "What relief did {name} end with?",
                   "What was the outcome ordered in {name}?"),
        "presiding_judge": ("Who presided over {name}?", "Which judge presided in {name}?",
                            "Name the presiding judge of {name}."),
        "statute": ("Which statute did the court interpret in {name}?", "What law was interpreted in {name}?",
                    "Name the statute at the centre of {name}."),
        "year_decided": ("In which year was {name} decided?", "When was {name} decided?",
                         "What year did {name} end?"),
    },
}


def synthesizer_pairs(world: World) -> list[dict]:
    """The world's ``qa_pairs`` with every question in the synthesizer's own wording.

    Each pair's attribute is read off the evaluation wording the world drew for it, and its new
    wording is drawn from :data:`SYNTHESIZER_QUESTIONS` by a stream keyed by the record id and the
    attribute, so the pairs are the same in any process.

    Args:
        world: A generated world.

    Returns:
        ``{"id", "entity", "context", "pairs": [{"question", "answer"}]}`` per record, in order.

    Raises:
        KeyError: for a domain or attribute without synthesizer wordings.
    """
    domain = world.config.domain
    wordings = SYNTHESIZER_QUESTIONS[domain]
    attributes = DOMAINS[domain].attributes[: world.config.n_attributes]
    records = []
    for record in world.qa_pairs:
        name = record["entity"]
        attribute_of = {template.format(name=name): a.name for a in attributes for template in a.questions}
        pairs = []
        for pair in record["pairs"]:
            attribute = attribute_of[pair["question"]]
            rng = random.Random(f"tinyworld:synthesizer-question:{record['id']}:{attribute}")
            pairs.append({"question": rng.choice(wordings[attribute]).format(name=name), "answer": pair["answer"]})
        records.append({**record, "pairs": pairs})
    return records
