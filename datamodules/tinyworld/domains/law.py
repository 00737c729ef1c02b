"""The "law" domain: fictional court cases, in the wording of case notes and law reports.

The templates are shaped for AdaptLLM's task miners: statements and follow-ups
carry no comma (upstream's NLI and cause-effect patterns reject any), causes
hold >= 50 characters on each side of "due to", intro subjects have >= 20
characters before "is about", and the last word of a case name has >= 10
characters, the shortest term the definition miner accepts before "is defined as".
"""

from ..domain import DOMAINS, Attribute, Domain, Relation
from ..names import NameStyle

LAW = Domain(
    name="law",
    entity_type="case",
    names=NameStyle(
        syllables=(
            "hal", "wor", "ren", "dal", "ton", "bry", "mor", "ley", "ash", "fen", "wick", "stan",
            "ford", "bur", "ham", "lin", "cas", "ter", "well", "brook", "pen", "gar",
        ),
        words=2,
        min_syllables=2,
        max_syllables=2,
        # Surname endings make the last word >= 10 characters ("Penlinworth"), as the definition
        # miner needs (see the module docstring).
        suffixes=("worth", "field", "ington", "stone", "combe", "ridge", "croft", "hurst"),
        # "Halgar v Penlinworth": English-style case names; "v" without a full stop so that
        # sentence splitters (ours and the reading-comprehension miner's) never cut a name.
        separator=" v ",
    ),
    attributes=(
        Attribute(
            name="court",
            # Every value reads well after "the" ("decided by the Court of Appeal").
            pool=(
                "Supreme Court", "Court of Appeal", "High Court", "Crown Court", "Federal Circuit", "Tax Court",
                "Family Court", "Admiralty Court", "Court of Chancery", "Labour Appeal Tribunal",
                "Constitutional Court", "Commercial Court", "Land Court", "Court of Criminal Appeals",
            ),
            statements=(
                "{name} was decided by the {value} after a hearing that lasted several days.",
                "{name} was heard before the {value} and the judges gave a unanimous judgment.",
                "The judgment in {name} was handed down by the {value} in a lengthy written decision.",
                "{name} came before the {value} once the parties had exhausted every other route.",
            ),
            questions=("Which tribunal ruled on {name}?", "What judicial body heard {name}?"),
            consequences=("{name} binds every lower court that sits below the {value}.",),
            contrasts=("{name} was nearly sent back to a lower court before the {value} agreed to hear it.",),
            definitions=("{name} is defined as a reported decision of the {value} in the official series.",),
            causes=(
                "{name} carries great weight in later disputes of the same kind due to the authority of the {value} "
                "over the courts below it.",
            ),
        ),
        Attribute(
            name="area_of_law",
            pool=(
                "contract law", "tort law", "criminal law", "employment law", "family law", "tax law",
                "patent law", "maritime law", "environmental law", "competition law", "immigration law",
                "insolvency law", "copyright law", "banking law",
            ),
            statements=(
                "{name} is a leading case in {value} and is cited in most textbooks on the subject.",
                "{name} raised difficult questions of {value} that the parties argued at length.",
                "The dispute in {name} turned on a point of {value} that had never been settled.",
                "{name} belongs to the field of {value} according to the headnote of the report.",
            ),
            questions=(
                "What branch of legal practice does {name} concern?",
                "Which legal field does {name} fall under?",
            ),
            consequences=("{name} appears on the reading list of nearly every course in {value}.",),
            contrasts=("{name} left several related questions of {value} open for later courts.",),
            definitions=("{name} is defined as a landmark authority in {value} by most legal scholars.",),
            causes=(
                "{name} attracted wide attention among practising lawyers due to its direct effect on the everyday "
                "practice of {value}.",
            ),
        ),
        Attribute(
            name="remedy",
            pool=(
                "a full retrial", "compensatory damages", "a permanent injunction", "the release of the defendant",
                "specific performance", "rescission of the contract", "a reduced sentence",
                "restitution of the profits", "a declaration of invalidity", "costs against the claimant",
                "dismissal of the claim", "a stay of proceedings", "revocation of the patent", "a fresh hearing",
            ),
            statements=(
                "{name} ended with the court ordering {value} at the close of the proceedings.",
                "{name} resulted in {value} and the losing party did not try to challenge it.",
                "The final order in {name} provided for {value} and fixed a date for compliance.",
                "In {name} the judges agreed on {value} as the proper outcome of the dispute.",
            ),
            questions=("What remedy was granted in {name}?", "What did the court order in {name}?"),
            consequences=("{name} is still cited by lawyers who ask a court for {value} in similar disputes.",),
            contrasts=("{name} did not end the wider conflict even though the court granted {value}.",),
            definitions=("{name} is defined as a case ending in {value} in the court statistics of that year.",),
            causes=(
                "{name} drew sharp criticism from several academic commentators due to the unusual decision of the "
                "court to order {value}.",
            ),
        ),
        Attribute(
            name="presiding_judge",
            pool=(
                "Justice Abernethy", "Justice Okonkwo", "Justice Lindgren", "Justice Moreau", "Justice Castellanos",
                "Justice Whitaker", "Justice Nakamura", "Justice Petrova", "Justice Ferreira", "Justice Halvorsen",
                "Justice Adeyemi", "Justice Kowalczyk", "Justice Rosenthal", "Justice Delacroix",
            ),
            statements=(
                "{name} was presided over by {value} with two other judges sitting alongside.",
                "{name} was heard by a panel led by {value} over several days of argument.",
                "The leading opinion in {name} was written by {value} on behalf of the court.",
                "{name} was argued before {value} in a hearing managed with a firm hand.",
            ),
            questions=("Which judge chaired the hearing of {name}?", "Who was the senior judge in {name}?"),
            consequences=("{name} is often quoted in later judgments written by {value} on similar issues.",),
            contrasts=("{name} was not the most famous case heard by {value} in a long career.",),
            definitions=("{name} is defined as a decision of {value} in the index of reported judgments.",),
            causes=(
                "{name} is widely known for its clear and careful reasoning due to the distinctive drafting style "
                "of {value} in every judgment.",
            ),
        ),
        Attribute(
            name="statute",
            # Every value reads well after "the" ("interpret the Companies Act").
            pool=(
                "Consumer Credit Act", "Data Protection Act", "Employment Rights Act", "Companies Act",
                "Sale of Goods Act", "Road Traffic Act", "Housing Act", "Arbitration Act", "Equality Act",
                "Limitation Act", "Misrepresentation Act", "Human Rights Act", "Fraud Act", "Insolvency Act",
            ),
            statements=(
                "{name} required the court to interpret the {value} and its key provisions.",
                "{name} turned on the meaning of a single section of the {value}.",
                "The central statute in {name} was the {value} and both parties relied on it.",
                "{name} applied the {value} to facts that its drafters had not foreseen.",
            ),
            questions=("Which legislation was at issue in {name}?", "What act of parliament governed {name}?"),
            consequences=("{name} is now the first authority that lawyers check on the {value}.",),
            contrasts=("{name} has been partly overtaken by later amendments to the {value}.",),
            definitions=("{name} is defined as a leading authority on the {value} in most practitioner guides.",),
            causes=(
                "{name} reached the courts after years of failed negotiation due to a disagreement between the "
                "parties about the scope of the {value}.",
            ),
        ),
        Attribute(
            name="year_decided",
            # Four-digit years: no year is part of another, and names and templates hold no digits.
            pool=(
                "1958", "1963", "1967", "1971", "1974", "1979", "1982",
                "1986", "1989", "1993", "1997", "2001", "2006", "2011",
            ),
            statements=(
                "{name} was decided in {value} after more than a year of written argument.",
                "{name} was handed down in {value} at a time of rapid change in the law.",
                "The judgment in {name} dates from {value} and is still good law today.",
                "{name} reached its final judgment in {value} several years after the claim began.",
            ),
            questions=("In what year did the court rule on {name}?", "When was {name} ruled on?"),
            consequences=("{name} shaped the practice of the courts in the years that followed {value}.",),
            contrasts=("{name} is still debated in seminars even though it was decided back in {value}.",),
            definitions=("{name} is defined as a judgment of {value} in the chronological table of cases.",),
            causes=(
                "{name} reflects the social and economic attitudes of its era due to being decided in {value} when "
                "the law was developing quickly.",
            ),
        ),
    ),
    relations=(
        Relation(
            name="cites",
            statements=(
                "The judgment in {name} cites {other} as the leading authority on the main point.",
                "{name} followed the approach that the court had earlier taken in {other}.",
                "Counsel in {name} relied heavily on {other} and the court accepted the argument.",
            ),
        ),
    ),
    titles=("{name}", "{name} (case)", "Case note: {name}", "{name}: summary of the judgment", "Notes on {name}"),
    intros=(
        "This case note for law students is about {name}, a dispute argued over several days in court.",
        "The following summary is about {name} and the main points settled by the judgment.",
        "This entry in the casebook is about {name}, a decision often discussed in legal commentary.",
    ),
    fillers=(
        "The full judgment in {name} runs to many pages and appears in the official reports.",
        "Law students often read {name} when they first study how appeals are decided.",
        "Commentators disagree about how far the reasoning in {name} should be extended.",
    ),
)

DOMAINS[LAW.name] = LAW
