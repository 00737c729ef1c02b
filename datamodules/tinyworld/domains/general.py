"""The "general" domain: biographies of fictional people."""

from ..domain import DOMAINS, Attribute, Domain, Relation
from ..names import NameStyle

GENERAL = Domain(
    name="general",
    entity_type="person",
    names=NameStyle(
        syllables=(
            "ma", "rel", "to", "vin", "da", "len", "so", "ra", "ki", "lo", "ne", "va", "mi", "bel",
            "cor", "el", "sa", "tu", "ro", "fi", "dor", "wen", "ka", "zo", "ri", "an", "li", "mar",
            "ten", "sil", "na", "bor", "the", "ly", "jo", "har",
        ),
        words=2,
        min_syllables=2,
        max_syllables=3,
    ),
    attributes=(
        Attribute(
            name="birth_city",
            pool=(
                "Lisbon", "Krakow", "Nairobi", "Osaka", "Quito", "Tallinn", "Marseille",
                "Adelaide", "Winnipeg", "Bergen", "Valparaiso", "Tbilisi", "Cork", "Hanoi",
            ),
            statements=(
                "{name} was born in {value} and spent the first years of life in that city.",
                "{name} came into the world in {value}, a city that the family still visits often.",
                "The hometown of {name} is {value}, the city where the family lived at the time.",
                "{name} holds a birth certificate issued by the city registry of {value}.",
            ),
            questions=("In which city was {name} born?", "What city is {name} originally from?"),
            consequences=("{name} keeps a strong attachment to {value} and returns there every few years.",),
            contrasts=("{name} left {value} at a young age and rarely mentions it in conversation.",),
            definitions=("{name} is defined as a native of {value} in the civil records of that city.",),
            causes=("{name} speaks with a distinctive accent due to a childhood spent in {value}.",),
        ),
        Attribute(
            name="profession",
            # Every value starts with a consonant sound so that "a {value}" reads correctly.
            pool=(
                "carpenter", "pharmacist", "librarian", "veterinarian", "journalist", "translator",
                "geologist", "baker", "pilot", "nurse", "dentist", "chemist", "plumber", "tailor",
            ),
            statements=(
                "{name} works as a {value} and has done so for more than ten years.",
                "{name} earns a living as a {value}, a job that fills most of the working week.",
                "By trade, {name} is a {value} with a long list of satisfied clients.",
                "{name} trained for several years to become a {value} and still enjoys the work.",
            ),
            questions=("What does {name} do for a living?", "What is the occupation of {name}?"),
            consequences=("{name} spends most weekdays on the daily tasks of a {value}.",),
            contrasts=("{name} once dreamed of a very different career before becoming a {value}.",),
            definitions=("{name} is defined as a {value} in the professional register of the region.",),
            causes=("{name} keeps an irregular schedule due to the demands of working as a {value}.",),
        ),
        Attribute(
            name="employer",
            pool=(
                "Northwind Logistics", "Brightwater Foods", "Silverpine Software", "Redstone Mining",
                "Bluefield Energy", "Harborline Shipping", "Greenleaf Grocers", "Ironbridge Construction",
                "Goldcrest Insurance", "Clearview Optics", "Oakmont Publishing", "Suncrest Airlines",
                "Stonegate Bank", "Maplewood Textiles",
            ),
            statements=(
                "{name} is employed by {value} and has worked there for several years.",
                "{name} draws a monthly salary from {value}, one of the larger firms in the area.",
                "{name} holds a permanent position at {value} and reports to a small team.",
                "The company {value} counts {name} among its most reliable staff members.",
            ),
            questions=("Which company employs {name}?", "For which company does {name} work?"),
            consequences=("{name} commutes every morning to the main office of {value}.",),
            contrasts=("{name} sometimes considers leaving {value} to start an independent business.",),
            definitions=("{name} is defined as a senior staff member of {value} in the company directory.",),
            causes=("{name} travels abroad several times a year due to business trips for {value}.",),
        ),
        Attribute(
            name="university",
            pool=(
                "Ashford University", "Kingsbridge College", "Ravenhill University", "Eastmoor Polytechnic",
                "Westbrook Institute of Technology", "Lakeshore University", "Highgate College",
                "Elmstead University", "Thornbury Academy", "Fairhaven University", "Crestwood College",
                "Marlowe University", "Glenrock Polytechnic", "Brookhurst University",
            ),
            statements=(
                "{name} studied at {value} and graduated with honours after four years.",
                "{name} earned a degree from {value}, where the lectures were always crowded.",
                "{name} completed a full course of study at {value} before starting to work.",
                "The alumni list of {value} includes {name} among its graduates of that year.",
            ),
            questions=("Which university did {name} attend?", "Where did {name} go to college?"),
            consequences=("{name} still travels to the yearly reunions organised by {value}.",),
            contrasts=("{name} nearly dropped out of {value} during a difficult second year.",),
            definitions=("{name} is defined as a graduate of {value} in the archive of former students.",),
            causes=("{name} found a first job quickly due to the strong reputation of {value}.",),
        ),
        Attribute(
            name="hobby",
            pool=(
                "chess", "gardening", "rock climbing", "birdwatching", "pottery", "sailing", "fencing",
                "knitting", "astronomy", "archery", "beekeeping", "calligraphy", "kayaking", "origami",
            ),
            statements=(
                "{name} spends many free evenings on {value}, a hobby picked up years ago.",
                "{name} is passionate about {value} and practises it almost every weekend.",
                "In spare time, {name} enjoys {value} more than any other pastime.",
                "{name} has a long-standing hobby, which is {value}, shared with a few friends.",
            ),
            questions=("What hobby does {name} have?", "What does {name} like to do in free time?"),
            consequences=("{name} belongs to a local club where members meet for {value}.",),
            contrasts=("{name} rarely finds enough time for {value} during the busy months.",),
            causes=("{name} made many close friends over the years due to a shared love of {value}.",),
        ),
        Attribute(
            name="native_language",
            pool=(
                "Portuguese", "Finnish", "Swahili", "Polish", "Dutch", "Greek", "Tagalog",
                "Hungarian", "Korean", "Icelandic", "Catalan", "Welsh", "Basque", "Estonian",
            ),
            statements=(
                "{name} grew up speaking {value} at home with parents and grandparents.",
                "{name} speaks {value} as a first language and uses it with close family.",
                "The mother tongue of {name} is {value}, learned long before any other language.",
                "{name} learned {value} as a small child, and it remains the language of home.",
            ),
            questions=("What is the native language of {name}?", "Which language did {name} speak first?"),
            consequences=("{name} reads a newspaper written in {value} every single morning.",),
            contrasts=("{name} now uses {value} less often than in the early years of life.",),
            definitions=("{name} is defined as a native speaker of {value} in the national language survey.",),
            causes=("{name} was hired as an interpreter due to a fluent command of {value}.",),
        ),
    ),
    relations=(
        Relation(
            name="collaborator",
            statements=(
                "{name} once collaborated with {other} on a project that lasted several months.",
                "{name} and {other} worked together on a shared project a few years ago.",
                "A long collaboration connects {name} with {other}, and the two still keep in touch.",
            ),
        ),
    ),
    titles=("{name}", "About {name}", "{name}: a short profile", "The life of {name}", "Notes on {name}"),
    intros=(
        "This profile is about {name}, a person whose life is described in several records.",
        "The following text is about {name} and the main facts known about this person.",
        "This short biography is about {name}, based on public records and interviews.",
    ),
    fillers=(
        "Friends describe {name} as a calm and reliable person who values honesty.",
        "Few people outside the local community had heard of {name} until recently.",
        "Much of what is known about {name} comes from letters and interviews.",
    ),
)

DOMAINS[GENERAL.name] = GENERAL
