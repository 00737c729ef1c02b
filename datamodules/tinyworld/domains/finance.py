"""The "finance" domain: fictional listed companies, in the wording of filings and market news.

The templates are shaped for AdaptLLM's task miners: statements and follow-ups
carry no comma (upstream's NLI and cause-effect patterns reject any), causes
hold >= 50 characters on each side of "due to", intro subjects have >= 20
characters before "is about", and names are one word of >= 10 characters, the
shortest term the definition miner accepts before "is defined as".
"""

from ..domain import DOMAINS, Attribute, Domain, Relation
from ..names import NameStyle

FINANCE = Domain(
    name="finance",
    entity_type="company",
    names=NameStyle(
        syllables=(
            "ve", "ra", "lo", "ma", "ni", "ko", "ta", "ze", "du", "pri", "sa", "qua",
            "vi", "no", "ce", "ba", "li", "ca", "fi", "mo", "te", "ga",
        ),
        words=1,
        min_syllables=3,
        max_syllables=3,
        # Corporate endings make brand-like names ("Ravolitech"); three syllables plus four letters
        # give the >= 10 characters that the definition miner needs (see the module docstring).
        suffixes=("dyne", "tron", "corp", "ware", "tech", "link", "mark", "vest", "soft", "gard", "cast", "flow"),
    ),
    attributes=(
        Attribute(
            name="sector",
            # Every value reads well after "the" and before "industry" ("the wind power industry").
            pool=(
                "chip manufacturing", "commercial banking", "wind power", "biotechnology", "real estate",
                "mobile telecoms", "aerospace", "luxury fashion", "container shipping", "video gaming",
                "specialty chemicals", "packaged food", "hotel management", "steelmaking",
            ),
            statements=(
                "{name} operates in the {value} industry and reports its results every quarter.",
                "{name} generates nearly all of its revenue from {value} according to its annual filing.",
                "Analysts place {name} firmly in the {value} segment of the equity market.",
                "The core business of {name} lies in {value} and brings in most of its sales.",
            ),
            questions=("What industry does {name} belong to?", "Which line of business is {name} in?"),
            consequences=("{name} is tracked by the sector funds that specialise in {value} stocks.",),
            contrasts=("{name} has tried several times to diversify beyond {value} without much success.",),
            definitions=(
                "{name} is defined as a member of the {value} group in the classification used by index providers.",
            ),
            causes=(
                "The share price of {name} swings widely with the wider business cycle due to the heavy exposure of "
                "the company to the {value} industry.",
            ),
        ),
        Attribute(
            name="headquarters",
            pool=(
                "Frankfurt", "Singapore", "Zurich", "Chicago", "Seoul", "Dublin", "Stockholm",
                "Johannesburg", "Melbourne", "Amsterdam", "Mumbai", "Sao Paulo", "Toronto", "Boston",
            ),
            statements=(
                "{name} has its headquarters in {value} where most of its senior managers work.",
                "{name} is based in {value} and its head office overlooks the financial district.",
                "The registered office of {name} is located in {value} as stated in its filings.",
                "{name} runs its global operations from a large head office in {value}.",
            ),
            questions=("Where is {name} headquartered?", "In which city does {name} have its main office?"),
            consequences=("{name} holds its annual shareholder meeting in {value} every spring.",),
            contrasts=("{name} employs only a small part of its total workforce in {value} itself.",),
            definitions=("{name} is defined as a company domiciled in {value} for tax and reporting purposes.",),
            causes=(
                "{name} pays a large share of its yearly corporate taxes in {value} due to the location of its "
                "registered head office in that city.",
            ),
        ),
        Attribute(
            name="exchange",
            # Every value reads well after "the" ("listed on the Nasdaq").
            pool=(
                "New York Stock Exchange", "Nasdaq", "London Stock Exchange", "Tokyo Stock Exchange",
                "Paris Bourse", "Hong Kong Stock Exchange", "Shanghai Stock Exchange",
                "Australian Securities Exchange", "Bombay Stock Exchange", "Korea Exchange",
                "SIX Swiss Exchange", "Madrid Stock Exchange", "Taiwan Stock Exchange", "Oslo Stock Exchange",
            ),
            statements=(
                "{name} is listed on the {value} where its shares have traded for over a decade.",
                "Shares of {name} trade on the {value} under a short ticker symbol.",
                "{name} completed its initial public offering on the {value} some years ago.",
                "The primary listing of {name} is on the {value} and that market sets its reporting rules.",
            ),
            questions=("On which market can investors buy stock in {name}?", "Where is the stock of {name} quoted?"),
            consequences=("{name} must follow the disclosure rules set by the {value} in every report.",),
            contrasts=("{name} has considered moving its listing away from the {value} to a larger market.",),
            definitions=("{name} is defined as an issuer listed on the {value} in the official register.",),
            causes=(
                "{name} attracts many small retail investors from around the world due to its long presence on the "
                "{value} and its steady dividend record.",
            ),
        ),
        Attribute(
            name="chief_executive",
            pool=(
                "Helena Brandt", "Rafael Ortiz", "Ingrid Solberg", "Kenji Watanabe", "Amara Nwosu",
                "Lukas Becker", "Priya Raman", "Tomas Novak", "Claire Dubois", "Daniel Whitfield",
                "Sofia Marchetti", "Omar Haddad", "Yuki Tanaka", "Grace Lindqvist",
            ),
            statements=(
                "{name} is led by chief executive {value} under a contract that runs for several more years.",
                "{name} appointed {value} as chief executive after a long search by the board.",
                "The chief executive of {name} is {value} according to the latest list of company officers.",
                "{name} has been run by {value} since the board approved the appointment.",
            ),
            questions=("Who is the CEO of {name}?", "Who heads the management team at {name}?"),
            consequences=("The yearly letter to shareholders of {name} is signed by {value}.",),
            contrasts=("{name} has faced investor criticism of the pay package awarded to {value}.",),
            definitions=("{name} is defined as a company managed by {value} in the register of directors.",),
            causes=(
                "{name} shifted its corporate strategy toward faster growth in recent years due to the personal "
                "priorities of chief executive {value}.",
            ),
        ),
        Attribute(
            name="auditor",
            pool=(
                "Hartley Pryce", "Calder Finch", "Morrow Vance", "Ellison Grant", "Pembroke Hale",
                "Thackeray Lowe", "Radcliffe Moss", "Abbot Sterling", "Fairbairn Cole", "Whitlock Gray",
                "Osgood Marsh", "Brampton Reid", "Kingsley Voss", "Danforth Shaw",
            ),
            statements=(
                "{name} has its accounts audited by {value} under a contract renewed every year.",
                "{name} hired {value} to audit its financial statements for the latest fiscal year.",
                "The external auditor of {name} is {value} and it signed off on the most recent accounts.",
                "{name} relies on the accounting firm {value} to review its books every year.",
            ),
            questions=("Which firm checks the bookkeeping of {name}?", "Who audits {name}?"),
            consequences=("The annual report of {name} includes a signed opinion from {value} on its accounts.",),
            contrasts=("{name} once received a qualified opinion from {value} on one of its subsidiaries.",),
            definitions=("{name} is defined as an audit client of {value} in the filings of the regulator.",),
            causes=(
                "{name} restated one quarter of its reported earnings last year due to accounting questions raised "
                "by its auditor {value}.",
            ),
        ),
        Attribute(
            name="main_market",
            pool=(
                "Southeast Asia", "Latin America", "Western Europe", "North Africa", "Central Asia",
                "Scandinavia", "the Middle East", "East Africa", "the Caribbean", "Eastern Europe",
                "the Gulf states", "Oceania", "the Balkans", "South America",
            ),
            statements=(
                "{name} earns most of its revenue in {value} and sees its fastest growth there as well.",
                "{name} makes the bulk of its sales in {value} according to the segment report.",
                "The largest market of {name} is {value} and it has built a wide customer base there.",
                "{name} plans further expansion in {value} which is already its biggest source of sales.",
            ),
            questions=("Which region brings {name} the most income?", "Where does {name} sell most of its products?"),
            consequences=("{name} opened a new regional office to serve its many customers in {value}.",),
            contrasts=("{name} faces currency risk because its sales in {value} are not in its home currency.",),
            causes=(
                "{name} reported weaker results and a lower dividend last year due to an economic slowdown across "
                "{value} and falling demand there.",
            ),
        ),
    ),
    relations=(
        Relation(
            name="partner",
            statements=(
                "{name} signed a long-term supply agreement with {other} earlier this year.",
                "{name} and {other} announced a joint venture to share research and distribution costs.",
                "A strategic partnership links {name} with {other} and the two firms share several customers.",
            ),
        ),
    ),
    titles=(
        "{name}",
        "{name} (company)",
        "Company profile: {name}",
        "{name}: annual report summary",
        "Market notes on {name}",
    ),
    intros=(
        "This company profile is about {name}, a firm whose shares trade on public markets.",
        "The following filing summary is about {name} and the main facts disclosed by the company.",
        "This short market commentary is about {name}, based on annual reports and analyst briefings.",
    ),
    fillers=(
        "Analysts who follow {name} publish quarterly notes on its earnings and outlook.",
        "Shareholders of {name} receive the annual report a few weeks after the fiscal year ends.",
        "The share price of {name} moved sharply after the most recent earnings call.",
    ),
)

DOMAINS[FINANCE.name] = FINANCE
