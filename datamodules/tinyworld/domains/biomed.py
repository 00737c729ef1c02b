"""The "biomed" domain: fictional drugs with targets, indications and side effects."""

from ..domain import DOMAINS, Attribute, Domain, Relation
from ..names import NameStyle

BIOMED = Domain(
    name="biomed",
    entity_type="drug",
    names=NameStyle(
        syllables=(
            "ve", "lo", "tra", "zo", "ri", "ma", "xa", "ce", "do", "ni", "pra", "li", "to", "fe",
            "ba", "qui", "ra", "so", "cla", "mi", "te", "vo", "da", "lu",
        ),
        words=1,
        min_syllables=2,
        max_syllables=2,
        # Consonant-initial stems keep vowels from piling up ("Mavonolol", not "Mavoolol").
        suffixes=("tinib", "ranib", "mab", "zumab", "pril", "nolol", "vir", "zole", "parin", "floxacin", "dronate", "sartan"),
    ),
    attributes=(
        Attribute(
            name="target",
            pool=(
                "EGFR", "KRAS", "BRAF", "JAK2", "PCSK9", "HER2", "VEGF",
                "mTOR", "CD20", "PD-1", "ALK", "CDK4", "BTK", "TNF-alpha",
            ),
            statements=(
                "{name} binds to the protein {value} and blocks its normal signalling activity.",
                "{name} acts on {value}, a protein that plays a central role in the disease.",
                "{name} was designed to inhibit {value} with high selectivity over related proteins.",
                "The molecular target of {name} is {value}, as shown in several binding studies.",
            ),
            questions=("Which protein does {name} target?", "What protein is {name} aimed at?"),
            consequences=("Cells treated with {name} show a much lower activity of {value}.",),
            contrasts=("{name} also weakly affects several proteins closely related to {value}.",),
            definitions=("{name} is defined as a selective ligand of {value} in the compound database.",),
            causes=("{name} changes cell signalling in the body due to its strong effect on {value}.",),
        ),
        Attribute(
            name="condition",
            pool=(
                "psoriasis", "asthma", "migraine", "rheumatoid arthritis", "type 2 diabetes", "hypertension",
                "epilepsy", "melanoma", "hepatitis C", "Crohn disease", "gout", "osteoporosis", "glaucoma", "lupus",
            ),
            statements=(
                "{name} is used to treat {value} in adults who did not respond to older drugs.",
                "{name} was approved as a treatment for {value} after several large clinical trials.",
                "Doctors prescribe {name} to patients with {value} when symptoms become severe.",
                "{name} is a common therapy for {value} and is listed in many clinical guidelines.",
            ),
            questions=("Which disease is {name} prescribed for?", "What condition does {name} treat?"),
            consequences=("{name} is stocked by most clinics that care for people with {value}.",),
            contrasts=("{name} does not cure {value} and must be taken for a long time.",),
            definitions=("{name} is defined as a first-line medicine for {value} in current practice.",),
            causes=("Many patients with {value} feel better within weeks due to treatment with {name}.",),
        ),
        Attribute(
            name="side_effect",
            pool=(
                "nausea", "drowsiness", "headache", "dry mouth", "hair loss", "skin rash", "dizziness",
                "insomnia", "muscle pain", "weight gain", "blurred vision", "fatigue", "joint stiffness", "hiccups",
            ),
            statements=(
                "{name} often causes {value}, which is the side effect that patients mention most.",
                "{name} can lead to {value}, so doctors warn patients before the first dose.",
                "The most common side effect of {name} is {value}, reported by many patients.",
                "Patients who take {name} frequently report {value} during the first weeks.",
            ),
            questions=("Which adverse reaction is most typical of {name}?", "What unwanted effect does {name} usually produce?"),
            consequences=("Patients taking {name} are asked to tell their doctor about any {value}.",),
            contrasts=("The {value} caused by {name} usually fades after a few weeks of treatment.",),
            causes=("Some patients stop taking {name} due to {value}, which can be hard to tolerate.",),
        ),
        Attribute(
            name="drug_class",
            # Every value starts with a consonant sound so that "a {value}" reads correctly.
            pool=(
                "kinase inhibitor", "monoclonal antibody", "beta blocker", "proton pump inhibitor", "statin",
                "calcium channel blocker", "corticosteroid", "diuretic", "protease inhibitor", "nucleoside analogue",
                "bisphosphonate", "dopamine agonist", "peptide hormone", "sodium channel blocker",
            ),
            statements=(
                "{name} is a {value} that was developed over many years of laboratory work.",
                "{name} is classified as a {value} by its chemical structure and mode of action.",
                "Pharmacologists group {name} with the other drugs of the {value} type.",
                "{name} works in the body like any other {value}, though with its own profile.",
            ),
            questions=("What kind of drug is {name}?", "To which drug family does {name} belong?"),
            consequences=("{name} carries the usual safety warnings given for every {value}.",),
            contrasts=("{name} is chemically unusual for a {value} and stays in the body longer.",),
            definitions=("{name} is defined as a {value} in the standard classification of medicines.",),
            causes=("{name} interacts with several other medicines due to its action as a {value}.",),
        ),
        Attribute(
            name="lab",
            pool=(
                "Marlow Institute", "Kessler Laboratories", "Aldine Research Center", "Brennan Institute",
                "Holloway Laboratories", "Carrick Research Center", "Vantor Institute", "Linwood Laboratories",
                "Stratton Research Center", "Belmont Institute", "Fenwick Laboratories", "Oriel Research Center",
                "Dunmore Institute", "Ashgrove Laboratories",
            ),
            statements=(
                "{name} was discovered at the {value} by a small team of chemists.",
                "{name} was first made by chemists working at the {value} during a large screening effort.",
                "Researchers at the {value} identified {name} while searching for new medicines.",
                "{name} owes its discovery to the {value}, which still holds the original patent.",
            ),
            questions=("Which institute discovered {name}?", "Where was {name} first found?"),
            consequences=("The {value} receives a share of the income from sales of {name}.",),
            contrasts=("{name} was later developed further by a company outside the {value}.",),
            causes=("The {value} became widely known due to the discovery of {name} by its chemists.",),
        ),
        Attribute(
            name="approval_country",
            pool=(
                "Japan", "Brazil", "Canada", "Norway", "Australia", "Mexico", "India",
                "Germany", "Chile", "Kenya", "Finland", "Ireland", "Egypt", "Vietnam",
            ),
            statements=(
                "{name} was first approved for sale in {value} after a long regulatory review.",
                "{name} reached patients in {value} before any other country allowed its use.",
                "The first country to license {name} was {value}, followed by many others.",
                "{name} received its earliest marketing approval from the regulators of {value}.",
            ),
            questions=("In which country did {name} get approved first?", "Which nation was the first to authorise {name}?"),
            consequences=("Doctors in {value} have the longest experience with prescribing {name}.",),
            contrasts=("{name} is still not sold in some of the neighbouring countries of {value}.",),
            causes=("{name} is widely used in {value} due to its early approval by local regulators.",),
        ),
    ),
    relations=(
        Relation(
            name="combined_with",
            statements=(
                "{name} is often combined with {other} to improve the response to treatment.",
                "Doctors sometimes prescribe {name} together with {other} in difficult cases.",
                "Clinical studies have tested {name} in combination with {other} with good results.",
            ),
        ),
    ),
    titles=("{name}", "{name} (drug)", "Pharmacology of {name}", "Drug profile: {name}", "Notes on {name}"),
    intros=(
        "This monograph is about {name}, a compound that has been studied in many trials.",
        "The following summary is about {name} and the main facts known about this drug.",
        "This entry is about {name}, a medicine described in the pharmacology literature.",
    ),
    fillers=(
        "The chemical structure of {name} was published in a peer-reviewed journal.",
        "Research on {name} continues, and new studies appear in journals every year.",
        "Pharmacists store {name} at room temperature, away from light and moisture.",
    ),
)

DOMAINS[BIOMED.name] = BIOMED
