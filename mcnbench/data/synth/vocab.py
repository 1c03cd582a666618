"""The built-in English vocabulary of the synthetic world.

Real-looking words so that captions read naturally ("now we're going to crack the egg").
Every verb and object carries a domain letter; a concept (verb, object) is only formed when the
verb is used in the object's domain, so recipes do not "tighten the egg":

    f food   h home/DIY   c cars and bikes   g garden   m MSR-VTT-only (never in the corpus)

The lists are fixed: changing them changes every world, so bump GENERATOR_VERSION when editing.
All words are lower case (the word2vec file holds lower-case words only; capitalised caption
variants are out-of-vocabulary on purpose, as "Crack" at a sentence start is for a model whose
vocabulary lacks it).
"""
from __future__ import annotations

# (base form, -ing form, domains)
VERBS: tuple[tuple[str, str, str], ...] = (
    ("crack", "cracking", "f"), ("pour", "pouring", "fc"), ("chop", "chopping", "fg"),
    ("slice", "slicing", "f"), ("stir", "stirring", "fh"), ("whisk", "whisking", "f"),
    ("mix", "mixing", "fh"), ("add", "adding", "fcg"), ("boil", "boiling", "f"),
    ("fry", "frying", "f"), ("bake", "baking", "f"), ("peel", "peeling", "f"),
    ("cut", "cutting", "fhg"), ("spread", "spreading", "fh"), ("fold", "folding", "f"),
    ("roll", "rolling", "f"), ("knead", "kneading", "f"), ("grate", "grating", "f"),
    ("season", "seasoning", "f"), ("flip", "flipping", "f"), ("drain", "draining", "fc"),
    ("rinse", "rinsing", "fg"), ("mash", "mashing", "f"), ("melt", "melting", "f"),
    ("sprinkle", "sprinkling", "fg"), ("squeeze", "squeezing", "f"), ("grill", "grilling", "f"),
    ("wrap", "wrapping", "f"), ("blend", "blending", "f"), ("heat", "heating", "f"),
    ("remove", "removing", "fhcg"), ("place", "placing", "fhg"), ("press", "pressing", "fh"),
    ("brush", "brushing", "fh"), ("tighten", "tightening", "hc"), ("loosen", "loosening", "hc"),
    ("sand", "sanding", "h"), ("paint", "painting", "h"), ("measure", "measuring", "fh"),
    ("drill", "drilling", "h"), ("screw", "screwing", "h"), ("attach", "attaching", "hc"),
    ("fill", "filling", "fcg"), ("clean", "cleaning", "hc"), ("shake", "shaking", "f"),
    ("dip", "dipping", "f"), ("cover", "covering", "fg"), ("steam", "steaming", "f"),
    ("roast", "roasting", "f"), ("scoop", "scooping", "fg"), ("trim", "trimming", "fg"),
    ("replace", "replacing", "hc"), ("inflate", "inflating", "c"), ("unscrew", "unscrewing", "hc"),
    ("beat", "beating", "f"), ("toast", "toasting", "f"), ("garnish", "garnishing", "f"),
    ("water", "watering", "g"), ("dig", "digging", "g"), ("plant", "planting", "g"),
    ("play", "playing", "m"), ("ride", "riding", "m"), ("throw", "throwing", "m"),
    ("kick", "kicking", "m"), ("drive", "driving", "m"), ("feed", "feeding", "m"),
    ("hold", "holding", "m"), ("pet", "petting", "m"), ("catch", "catching", "m"),
)

# (word, domain)
OBJECTS: tuple[tuple[str, str], ...] = (
    ("egg", "f"), ("batter", "f"), ("onion", "f"), ("garlic", "f"), ("tomato", "f"),
    ("pepper", "f"), ("salt", "f"), ("butter", "f"), ("flour", "f"), ("sugar", "f"),
    ("milk", "f"), ("dough", "f"), ("cheese", "f"), ("bread", "f"), ("potato", "f"),
    ("carrot", "f"), ("chicken", "f"), ("beef", "f"), ("bacon", "f"), ("lemon", "f"),
    ("rice", "f"), ("pasta", "f"), ("sauce", "f"), ("cream", "f"), ("honey", "f"),
    ("vinegar", "f"), ("mixture", "f"), ("lettuce", "f"), ("cucumber", "f"), ("mushroom", "f"),
    ("spinach", "f"), ("noodles", "f"), ("tortilla", "f"), ("avocado", "f"), ("shrimp", "f"),
    ("salmon", "f"), ("beans", "f"), ("corn", "f"), ("broth", "f"), ("ginger", "f"),
    ("parsley", "f"), ("basil", "f"), ("cinnamon", "f"), ("chocolate", "f"), ("banana", "f"),
    ("gelatin", "f"), ("vodka", "f"), ("juice", "f"), ("jam", "f"), ("wrapper", "f"),
    ("cabbage", "f"), ("zucchini", "f"), ("steak", "f"), ("yolk", "f"), ("oats", "f"),
    ("shelf", "h"), ("board", "h"), ("wood", "h"), ("nail", "h"), ("bracket", "h"),
    ("wall", "h"), ("glue", "h"), ("faucet", "h"), ("pipe", "h"), ("bulb", "h"),
    ("tile", "h"), ("primer", "h"), ("hinge", "h"), ("drawer", "h"), ("frame", "h"),
    ("tire", "c"), ("wheel", "c"), ("bolt", "c"), ("jack", "c"), ("brake", "c"),
    ("oil", "c"), ("filter", "c"), ("battery", "c"), ("chain", "c"), ("windshield", "c"),
    ("soil", "g"), ("seeds", "g"), ("pot", "g"), ("hose", "g"), ("leaves", "g"),
    ("roots", "g"), ("compost", "g"), ("seedling", "g"), ("mulch", "g"), ("weeds", "g"),
    ("flowers", "g"), ("lawn", "g"),
    ("guitar", "m"), ("ball", "m"), ("dog", "m"), ("horse", "m"), ("kite", "m"),
    ("drum", "m"), ("piano", "m"), ("bicycle", "m"), ("cat", "m"), ("skateboard", "m"),
)

# Words that carry no concept. Their vectors are random; they dilute the bag of words.
FILLERS: tuple[str, ...] = (
    "the", "a", "an", "and", "so", "now", "then", "we", "you", "i", "it", "is", "are", "going",
    "to", "just", "gonna", "really", "little", "bit", "of", "in", "on", "with", "into", "some",
    "this", "that", "here", "there", "okay", "alright", "yeah", "let's", "we're", "you're",
    "i'm", "it's", "don't", "we'll", "right", "good", "nice", "well", "about", "over", "all",
    "your", "my", "our", "them", "up", "out", "next", "first", "again", "until", "minutes",
    "seconds", "make", "sure", "want", "need", "like", "look", "see", "get", "take", "use",
    "put", "go", "very", "too", "also", "guys", "thanks", "for", "watching", "video", "today",
    "what", "how", "because", "if", "kind", "lot", "more", "time", "way", "thing", "back",
    "down", "as", "at", "be", "do", "have", "one", "two", "three", "few", "perfect", "beautiful",
    "delicious", "easy", "simple", "quick", "hot", "large", "small", "fresh", "golden", "soft",
    "someone",
)
SUBJECTS = ("man", "woman", "girl", "boy", "person", "chef", "kid", "guy", "lady")
PLACES = ("kitchen", "room", "table", "yard", "street", "park", "garage", "stage")
TOOLS = ("pan", "bowl", "plate", "tray", "spoon", "knife", "spatula", "skillet")
ADVERBS = ("gently", "slowly", "carefully", "evenly", "together", "quickly", "thoroughly")

# Categories of the HowTo100M video paths, per domain.
CATEGORIES = {"f": "food_and_entertaining", "h": "home_and_garden", "g": "home_and_garden",
              "c": "cars_and_other_vehicles"}

# Task titles per domain (CrossTask style). Extra tasks beyond a list get a numbered variant.
TASK_TITLES = {
    "f": ("Make Pancakes", "Make Jello Shots", "Make French Toast", "Make Kimchi Fried Rice",
          "Make Banana Bread", "Make Guacamole", "Make Tomato Soup", "Make Taco Salad",
          "Make Lemonade", "Grill Steak", "Make Irish Coffee", "Make Meringue", "Make Pizza",
          "Make Fried Rice", "Make Chicken Noodle Soup", "Make Chocolate Cake", "Make Hummus",
          "Make Pasta Salad", "Make Garlic Bread", "Make Shrimp Tacos", "Make Oatmeal Cookies",
          "Make Caesar Salad", "Make Mashed Potatoes", "Make Spring Rolls"),
    "h": ("Build Simple Floating Shelves", "Paint a Wall", "Fix a Leaky Faucet",
          "Replace a Light Bulb", "Install Wall Tiles", "Hang a Picture Frame",
          "Fix a Squeaky Hinge", "Build a Drawer"),
    "c": ("Change a Tire", "Jack Up a Car", "Add Oil to Your Car", "Replace a Car Battery",
          "Fix a Bike Chain", "Clean a Windshield"),
    "g": ("Repot a Plant", "Plant Tomato Seeds", "Make Compost", "Water a Garden"),
}

# Dishes of the Mining YouTube test set (eval_protocols §2.1), then more for larger knobs.
MYT_DISHES = ("eggroll", "fried egg", "pancake", "omelette", "scrambled egg", "french toast",
              "crepe", "quiche")

# Sentence templates. {v}/{ving}: verb forms, {o}: object, {f}: a random filler word,
# {s} subject, {p} place, {t} tool, {a} adverb (all four are filler words too).
NARRATION_TEMPLATES = (
    "{f} {v} the {o}", "now we're going to {v} the {o}", "so {f} {v} your {o} {f}",
    "and then you {v} the {o} like this", "i'm {ving} the {o} {f} {f}",
    "we are {ving} our {o} now", "next {v} {f} {o}", "okay {v} the {o} {a} {f} {f}",
    "you want to {v} it {a}", "{f} this {o} {f} {f}",
)
YOUCOOK_TEMPLATES = (
    "{v} the {o}", "{v} the {o} in a {t}", "{v} some {o} {a}", "{v} {o} into the {t}",
    "{v} the {o} with a {t}", "now {v} the {o}",
)
MSRVTT_TEMPLATES = (
    "a {s} is {ving} a {o}", "{s} {ving} the {o}", "a {s} is {ving} the {o} in the {p}",
    "the {s} is {ving} {o} {a}", "someone is {ving} a {o}", "a {s} {ving} a {o} in a {p}",
)
