"""Given-name nicknames, diminutives and spelling variants, pure Python (no Django).

A lab result for "Bill Smith" and a person recorded as "William Smith" carry the
same given name; so do "Pepe" and "José", "Sasha" and "Aleksandr". The table maps a
canonical given name to the other forms people go by. Everything is in name_key form
(lower case, accents removed, letters only), the form matching compares.

Some forms stand for several names ("Alex": Alexander, Alexandra, Alejandro; "Pat":
Patrick, Patricia). They are listed under each, so a form has one or more *senses*.
Two names are the same given name when they share a sense; names that are both in
the table and share none are known to be different names (Daniel and Danielle),
however alike they are spelled.

Cross-language equivalents are listed only where people use them for the same
person on US records (Mikhail for Michael, Andrés for Andrew); José and Joseph stay
apart, as do María and Mary, because they are usually distinct registered names.
"""

from __future__ import annotations

from functools import lru_cache

# Canonical name -> the other forms, separated by spaces. Order matters for ambiguous
# forms: canonical_first gives the first canonical name that lists the form, so the
# more common sense comes first.
_TABLE: dict[str, str] = {
    # English, male
    "william": "bill billy billie will willy willie liam wil wilhelm guillaume",
    "robert": "bob bobby rob robbie robby bert bobbie",
    "james": "jim jimmy jimmie jamie jamey jem",
    "john": "jack johnny johnnie jon jonny jhon",
    "michael": "mike mikey mick mickey micky mikhail michal mikael misha",
    "david": "dave davey davy davide",
    "richard": "rich richie rick ricky rickey dick dickie",
    "charles": "charlie chuck chas chaz chip charley",
    "joseph": "joe joey jody josef",
    "thomas": "tom tommy thom tomas tomasz tomek",
    "christopher": "chris kris topher kit cristopher kristopher christoffer krzysztof",
    "daniel": "dan danny dannie danilo",
    "matthew": "matt matty mathew matheus",
    "anthony": "tony antony anton ant",
    "donald": "don donnie donny",
    "steven": "steve stevie stephen stefan stephan stevan",
    "andrew": "andy drew andre andrei andrey andrzej andres",
    "kenneth": "ken kenny kenney",
    "joshua": "josh joshuah",
    "edward": "ed eddie eddy ted teddy ned eduard",
    "ronald": "ron ronnie ronny",
    "timothy": "tim timmy timofey",
    "jeffrey": "jeff jeffery jeffry geoffrey geoff",
    "gregory": "greg gregg grigory",
    "jacob": "jake jakob yakov jakub",
    "benjamin": "ben benji benjy benny",
    "samuel": "sam sammy sammie",
    "patrick": "pat paddy",
    "alexander": "alex alec alek alexandr aleksandr aleksander sasha sandy xander lex olek",
    "nicholas": "nick nicky nico nicolas nikolai nikolay niklas kolya mikolaj",
    "jonathan": "jon jonny johnathan jonathon",
    "frederick": "fred freddie freddy frederic fredrick fritz",
    "alfred": "alf alfie fred freddie al",
    "albert": "al bert bertie albie",
    "allen": "alan allan alen al",
    "raymond": "ray raymon",
    "lawrence": "larry laurence lorenzo laurie",
    "gerald": "gerry jerry gerard",
    "jeremiah": "jeremy jerry jem",
    "jerome": "jerry",
    "harold": "harry hal",
    "henry": "hank harry hal henryk",
    "walter": "walt wally",
    "arthur": "art artie artur",
    "peter": "pete petr pyotr piotr piotrek",
    "philip": "phil phillip pip filip felipe",
    "francis": "frank frankie fran",
    "franklin": "frank frankie",
    "eugene": "gene yevgeny evgeny evgeniy evgenii yevgeniy zhenya",
    "theodore": "ted teddy theo",
    "herbert": "herb bert",
    "bernard": "bernie barney",
    "leonard": "leo len lenny leonardo",
    "louis": "lou louie lewis",
    "vincent": "vince vinny vinnie",
    "victor": "vic viktor",
    "zachary": "zach zack zak zachariah zackary",
    "nathaniel": "nate nat nathan nathanael",
    "abraham": "abe abram bram",
    "isaac": "ike ikey",
    "douglas": "doug dougie",
    "dennis": "denny denis",
    "bradley": "brad",
    "brian": "bryan brien bryon",
    "calvin": "cal",
    "clifford": "cliff",
    "curtis": "curt",
    "dominic": "dom dominick domenic",
    "edwin": "ed eddie",
    "edmund": "ed ned edmond",
    "ernest": "ernie earnest",
    "ezekiel": "zeke",
    "gabriel": "gabe",
    "howard": "howie",
    "maxwell": "max",
    "maxim": "maksim max",
    "maximilian": "max maximiliano",
    "mitchell": "mitch",
    "montgomery": "monty",
    "oliver": "ollie",
    "randall": "randy randal randolph",
    "reginald": "reg reggie",
    "russell": "russ rusty",
    "solomon": "sol",
    "stanley": "stan",
    "terrence": "terry terence terrance",
    "augustus": "gus augie august",
    "mohammed": "muhammad mohamed mohammad muhammed mohamad",
    "vladimir": "vlad volodya vova wlodzimierz",
    "dmitri": "dima dmitry dmitriy dimitri dimitry",
    "sergei": "sergey seryozha sergiy",
    "pavel": "pasha pawel",
    "ivan": "vanya",
    "alexei": "aleksey alexey aleksei alyosha lyosha",
    "yuri": "yury yuriy jurij",
    "wojciech": "wojtek",
    # English, female
    "mary": "molly polly mamie mae mimi",
    "patricia": "pat patty patti patsy trish tricia trisha paty",
    "elizabeth": "liz lizzie lizzy beth betty bette eliza libby bess bessie betsy liza elisabeth lisa elisabet isabeth",
    "jennifer": "jen jenn jenny jennie jenni",
    "linda": "lindy lyn",
    "barbara": "barb barbie babs barbra",
    "susan": "sue susie suzy suzie suzanne susanna susannah suzanna",
    "margaret": "peggy maggie meg marge margie madge greta gretchen margo margot malgorzata gosia",
    "dorothy": "dot dottie dolly dorothea",
    "jessica": "jess jessie jessi",
    "sarah": "sara sally sadie",
    "karen": "karin caren karyn",
    "nancy": "nan nance",
    "catherine": (
        "kate kathy katie katy cathy cat kat kitty katherine kathryn katharine kathleen catharine "
        "ekaterina yekaterina katya katarzyna kasia catalina"
    ),
    "christina": "chris kris tina kristina christine kristine kristin kristen chrissy cristina kristy christy",
    "deborah": "deb debbie debby debra",
    "rebecca": "becky becca rebekah beckie",
    "cynthia": "cindy cinthia",
    "kimberly": "kim kimmy kimberley",
    "amanda": "mandy manda",
    "melissa": "mel missy lissa",
    "stephanie": "steph stephie stefanie stephany stefany",
    "pamela": "pam pammy",
    "samantha": "sam sammy sammie",
    "alexandra": "alex alexa lexi lexie sasha sandy aleksandra alexandria",
    "victoria": "vicky vicki vickie tori vic viktoria",
    "abigail": "abby abbie abbey",
    "angela": "angie angelina",
    "anna": "ann anne annie ana anya anita anka",
    "beatrice": "bea trixie beatriz beatrix",
    "carolyn": "carol carole carrie caroline carolina caro",
    "charlotte": "lottie lotte charlie",
    "diana": "diane dianne di",
    "eleanor": "ellie nell nellie elinor elly elenor",
    "emily": "em emmy emilie",
    "evelyn": "evie eve evelin",
    "frances": "fran frannie francie",
    "gabrielle": "gabby gabi gaby gabriela gabriella",
    "gillian": "jill jillian gill",
    "harriet": "hattie hatty",
    "isabella": "bella izzy izzie isabel isabelle belle isa chabela ysabel",
    "jacqueline": "jackie jacquie jacky",
    "joan": "joanie jo joann joanne joanna johanna",
    "josephine": "jo josie jojo",
    "judith": "judy judi jude",
    "julia": "julie yulia yuliya julija julianna",
    "laura": "laurie lori lora",
    "lillian": "lily lil lillie lilly",
    "madeline": "maddie maddy madelyn madeleine madelynn",
    "martha": "marty mattie marta",
    "michelle": "shelly shelley michele",
    "natalie": "natalia natalya nataliya natasha tasha nat natalee",
    "olivia": "liv livvy livia",
    "penelope": "penny",
    "sophia": "sophie sofia sofie zofia zosia",
    "teresa": "terry tess tessa tessie theresa tere terri",
    "valerie": "val valeria",
    "virginia": "ginny ginger jinny",
    "cassandra": "cassie cass",
    "danielle": "dani daniela daniella",
    "gwendolyn": "gwen gwenda",
    "henrietta": "etta hettie",
    "roberta": "bobbie",
    "tatiana": "tanya tatyana tania tanja",
    "svetlana": "sveta lana",
    "anastasia": "anastasiya nastya stacy stacey stasia",
    "elena": "yelena lena helena lenochka",
    "lyudmila": "lyuda mila ludmila ludmilla",
    "irina": "ira irena",
    "olga": "olya olenka",
    # Spelling variants of names with no nickname in the table
    "sean": "shawn shaun shon",
    "mark": "marc",
    "eric": "erik erick",
    "carl": "karl",
    "marcus": "markus",
    "caitlin": "kaitlyn katelyn kaitlin caitlyn katelynn kaitlynn",
    "jasmine": "jazmin jasmin yasmin jazmine",
    "ashley": "ashlee ashleigh ashly",
    "hailey": "haley hayley haylee",
    "zoe": "zoey zoie",
    "nicole": "nichole nikki",
    "megan": "meghan meagan",
    "allison": "alison allyson",
    "rachel": "rachael",
    "lindsay": "lindsey",
    "kelly": "kelli kellie",
    "brittany": "britney brittney",
    "cheryl": "sheryl",
    "jayden": "jaden jaiden jaydon",
    "aiden": "aidan aden",
    "mackenzie": "mckenzie",
    # Spanish
    "jose": "pepe pepito chepe joselito cheo",
    "francisco": "paco pancho curro paquito cisco panchito quico",
    "guadalupe": "lupe lupita",
    "jesus": "chucho chuy chus chuchin",
    "ignacio": "nacho nachito",
    "manuel": "manolo manny manu manolito",
    "dolores": "lola lolita",
    "concepcion": "concha conchita",
    "enrique": "quique kike",
    "alejandro": "alex alejo jandro",
    "eduardo": "lalo edu",
    "rosario": "charo chayo",
    "antonio": "tono tony toni antonito",
    "gregorio": "goyo",
    "guillermo": "memo guille memito",
    "roberto": "beto robertito",
    "alberto": "beto tito",
    "humberto": "beto",
    "heriberto": "beto heri",
    "alfredo": "fredo",
    "rafael": "rafa rafi",
    "fernando": "nando fer",
    "luis": "lucho wicho luisito",
    "carlos": "carlitos",
    "santiago": "santi chago",
    "salvador": "chava salva chavo",
    "ernesto": "neto",
    "armando": "mando",
    "joaquin": "quino joaco",
    "federico": "fede",
    "juan": "juanito juancho",
    "miguel": "miguelito",
    "rodrigo": "rodri",
    "sebastian": "sebas seba bastian",
    "vicente": "chente",
    "maria": "mari masha mariya marija",
    "josefina": "pepa pepita fina chepina",
    "margarita": "rita",
    "mercedes": "meche merche mecha",
    "pilar": "pili",
    "soledad": "sole chole",
    "consuelo": "chelo",
    "graciela": "chela",
    "esperanza": "espe",
    "refugio": "cuca cuco",
    "socorro": "coco",
}


NICKNAMES: dict[str, tuple[str, ...]] = {canonical: tuple(forms.split()) for canonical, forms in _TABLE.items()}


def _build_senses() -> dict[str, tuple[str, ...]]:
    senses: dict[str, list[str]] = {}
    for canonical in NICKNAMES:
        senses.setdefault(canonical, []).append(canonical)
    for canonical, forms in NICKNAMES.items():
        for form in forms:
            meanings = senses.setdefault(form, [])
            if canonical not in meanings:
                meanings.append(canonical)
    return {form: tuple(meanings) for form, meanings in senses.items()}


# Form -> the canonical names it can stand for, in table order.
_SENSES: dict[str, tuple[str, ...]] = _build_senses()


def canonical_first(name_key: str) -> str:
    """The canonical given name for `name_key` ("bill" -> "william").

    A name the table does not know is its own canonical form. An ambiguous form
    gives its most common sense ("al" -> "albert"); callers that must not miss the
    others (blocking) use given_name_senses.
    """
    senses = _SENSES.get(name_key)
    return senses[0] if senses else name_key


@lru_cache(maxsize=65536)
def given_name_senses(name_key: str) -> frozenset[str]:
    """Every canonical name `name_key` can stand for; an unknown name stands for itself."""
    return frozenset(_SENSES.get(name_key, (name_key,)))


def is_known_given_name(name_key: str) -> bool:
    """True when the table lists the name, as a canonical name or as a form of one."""
    return name_key in _SENSES


def same_given_name(a: str, b: str) -> bool:
    """Whether two given names (name_key form) can be the same name: they share a sense."""
    return a == b or not given_name_senses(a).isdisjoint(given_name_senses(b))
