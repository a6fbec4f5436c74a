"""Broad English text for the agent voice: many more words and sound sequences than sentences.py.

Why: the detokenizer's training text (sentences.py) is 20 banking-style templates plus part 1's user phrasings,
about 300 distinct content words. The detokenizer then renders the replies (seen) far better than any new sentence
(resynthesis WER 32.6 vs 64.7 %), and the same gap shows with every input in the unit probes (REPORT-part2 §0b):
a model that has heard a few hundred words can only guess the sounds of the rest. flite can speak any text, so
the cheapest lever is text that covers English sound sequences widely:

  grammar(n)  everyday sentences from a larger grammar (about 50 templates, about 1,000 words in many topics)
  salad(n)    sequences of 4-9 words drawn from the pocketsphinx pronouncing dictionary (cmudict-en-us, 130k
              words): no meaning, but phone sequences that no grammar here would produce

Neither is written from the evaluation sentences; no line equals an evaluation or fresh sentence (case and
punctuation ignored; asserted here and in fresh_sentences.fresh_set). The independent check of what this text buys is a fresh set
written after it (fresh_sentences.py).
usage: /usr/bin/python3 training/part2/broad_text.py [N]   (prints a sample)
"""
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

CMUDICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

PEOPLE = ["my neighbour", "the teacher", "our driver", "the old farmer", "a young nurse", "the manager",
          "her brother", "his cousin", "the pilot", "a tall stranger", "the baker", "my grandmother",
          "the children", "the engineer", "a police officer", "the waiter", "our guests", "the mechanic",
          "the students", "a famous singer", "the captain", "my uncle", "the shop owner", "the lawyer",
          "the gardener", "a little boy", "the twins", "the judge", "the painter", "the fisherman",
          "Victoria", "Oscar", "Hannah", "Lucas", "Isabel", "Frederick", "Chloe", "Benjamin", "Yusuf", "Ingrid",
          "Patrick", "Zoe", "Gabriel", "Amelia", "Kevin", "Natalie", "Walter", "Fiona", "Hugo", "Rachel"]
THINGS = ["a wooden chair", "the glass jar", "an orange kite", "the silver spoon", "a leather jacket",
          "the garden hose", "a paper bag", "the violin", "a box of matches", "the laptop", "the toolbox",
          "a basket of plums", "the broom", "a warm scarf", "the ladder", "the flashlight", "a pair of boots",
          "the calendar", "a jar of honey", "the telescope", "the map", "a bottle of juice", "the notebook",
          "the candle", "a loaf of bread", "the suitcase", "the bucket", "a deck of cards", "the microphone",
          "the pillow", "a feather", "the hammer", "the mirror", "a bowl of soup", "the envelope", "the piano",
          "a bunch of grapes", "the helmet", "the thermos", "a pumpkin", "the carpet", "the clock"]
PLACES = ["the kitchen", "the beach", "the mountains", "the village", "the cinema", "the playground",
          "the garage", "the forest", "the bridge", "the castle", "the laboratory", "the stadium", "the zoo",
          "the farm", "the island", "the attic", "the basement", "the church", "the pharmacy", "the gym",
          "the lake", "the desert", "the harbour", "the factory", "the post office", "the supermarket",
          "the university", "the train platform", "the parking lot", "the swimming pool", "the theatre",
          "the valley", "the cathedral", "the north shore", "the old mill", "the city centre", "the tunnel"]
TIMES = ["at dawn", "after lunch", "before midnight", "on Saturday morning", "last winter", "in the spring",
         "every evening", "around noon", "during the storm", "in August", "next Friday", "at half past six",
         "in nineteen ninety", "two weeks ago", "since January", "by the end of June", "at sunset",
         "early on Wednesday", "in the autumn", "once a month", "in December", "later this year"]
ADJ = ["enormous", "tiny", "purple", "shiny", "rusty", "smooth", "noisy", "gentle", "clever", "lazy", "brave",
       "curious", "frozen", "muddy", "golden", "fragile", "delicious", "bitter", "sour", "crowded", "empty",
       "ancient", "modern", "wild", "polite", "nervous", "famous", "hungry", "thirsty", "sleepy", "lucky",
       "strict", "honest", "narrow", "wide", "steep", "dusty", "fresh", "spicy", "gloomy", "cheerful",
       "elegant", "clumsy", "fierce", "calm", "humid", "chilly", "soft", "loud", "dark", "pale", "vivid"]
ADV = ["slowly", "quickly", "carefully", "quietly", "suddenly", "happily", "nearly", "finally", "rarely",
       "always", "sometimes", "gladly", "barely", "eagerly", "politely", "loudly", "gently", "proudly"]
V_BASE = ["carry", "borrow", "repair", "paint", "throw", "catch", "wash", "build", "climb", "draw", "bake",
          "measure", "deliver", "explore", "follow", "gather", "hide", "invite", "juggle", "knit", "lift",
          "mend", "notice", "polish", "question", "rescue", "sketch", "taste", "unpack", "visit", "whistle",
          "wrap", "chase", "fold", "grab", "hang", "kick", "lend", "pour", "push", "pull", "scrub", "shake",
          "sweep", "swap", "test", "trace", "weigh", "water", "photograph", "celebrate", "describe", "imagine"]
V_PAST = ["carried", "borrowed", "repaired", "painted", "threw", "caught", "washed", "built", "climbed", "drew",
          "baked", "measured", "delivered", "explored", "followed", "gathered", "hid", "invited", "lifted",
          "noticed", "polished", "rescued", "sketched", "tasted", "unpacked", "visited", "wrapped", "chased",
          "folded", "grabbed", "hung", "kicked", "poured", "pushed", "pulled", "scrubbed", "shook", "swept",
          "weighed", "watered", "photographed", "described", "forgot", "dropped", "buried", "stole", "sold"]
V_ING = ["singing", "dancing", "running", "swimming", "cooking", "reading", "writing", "laughing", "shouting",
         "sleeping", "waiting", "fishing", "digging", "skating", "sewing", "typing", "driving", "climbing",
         "whispering", "counting", "studying", "juggling", "cycling", "hiking", "snoring", "sneezing"]
ANIMALS = ["a brown horse", "the black cat", "a flock of pigeons", "the puppy", "an owl", "the goats",
           "a rabbit", "the elephant", "a squirrel", "the tiger", "a swan", "the donkey", "a frog", "the bees",
           "a fox", "the parrot", "a whale", "the lambs", "a spider", "the camel", "a dolphin", "the crow"]
FOODS = ["pancakes", "noodles", "cherry pie", "roasted potatoes", "cheese sandwiches", "tomato soup",
         "fried rice", "chocolate cake", "green beans", "mashed carrots", "lemonade", "strawberry jam",
         "peanut butter", "grilled fish", "vanilla ice cream", "onion rings", "mushroom risotto", "apple sauce",
         "boiled eggs", "garlic bread", "blueberry muffins", "spinach salad", "hot porridge", "sweet corn"]
NUMBERS = ["three", "seven", "eleven", "thirteen", "sixteen", "nineteen", "twenty two", "thirty eight",
           "forty four", "fifty six", "sixty one", "seventy", "eighty three", "ninety", "a dozen", "a few",
           "several", "two thousand", "four hundred", "eighteen", "twenty seven", "a million", "zero"]
FEELINGS = ["surprised", "worried", "delighted", "confused", "annoyed", "relieved", "excited", "embarrassed",
            "disappointed", "grateful", "jealous", "impatient", "amazed", "frightened", "bored", "proud"]
WEATHER = ["it rained all night", "the wind was howling", "the snow kept falling", "thunder shook the windows",
           "a thick fog covered the road", "the sun came out", "the air smelled of smoke", "hail hit the roof",
           "the river flooded the fields", "the sky turned orange", "frost covered the grass"]

TEMPLATES = [
    "{P} {VP} {T} {L} {TI}.", "{P} was {VI} in {L} {TI}.", "Why did {P} {V} {T}?",
    "I saw {AN} near {L} {TI}.", "{P} felt {F} when {WE}.", "Could you {V} {T} before {TI2}?",
    "{P} {AD} {VP} {T}.", "There were {NUM} {A} boxes in {L}.", "{P} cooked {FO} for {P2}.",
    "The {A} road to {L} is very {A2}.", "We ate {FO} and {FO2} {TI}.", "{WE2} {TI}, so we stayed home.",
    "{P} and {P2} were {VI} together.", "Have you ever tried to {V} {T}?", "{P} keeps {T} in {L}.",
    "Do not {V} {T} while {P} is {VI}.", "It took {NUM} hours to {V} {T}.", "{P} said that {AN} is {A}.",
    "Last night {WE}, and {P} was {F}.", "My favourite food is {FO}, but {P} prefers {FO2}.",
    "{AN} ran across {L} {AD}.", "How many {A} things did {P} find in {L}?", "The {A} lamp in {L} was {A2}.",
    "{P} promised to {V} {T} {TI}.", "If {WE}, we will meet at {L}.", "{P} has been {VI} since {TI3}.",
    "Nobody knew why {P} {VP} {T}.", "Take {T} to {L} and wait there.", "{P} looked {F} and {A}.",
    "The tickets cost {NUM} pounds each.", "{AN} was hiding under {T}.", "We counted {NUM} stars above {L}.",
    "{P} whispered something about {FO}.", "After {P} {VP} {T}, everyone was {F}.",
    "Is {L} open {TI}?", "The walls of {L} are painted {A}.", "{P} wants to {V} {T} and then {V2} {T2}.",
    "Watch {AN} {AD}; it might {V} {T}.", "At {L}, {P} {AD} {VP} {T2}.", "{P} is too {A} to {V} {T}.",
    "Bring {T} and {T2} to {L}.", "What a {A} day it was at {L}!", "{NUM} people were {VI} at {L}.",
    "{P} always {VS} {FO} on {DAY}.", "The story about {AN} was {A} and {A2}.", "{P} never {VS} {T}.",
    "Someone left {T} next to {T2}.", "Before {TI2}, {P} must {V} {T}.", "Which {A} path leads to {L}?",
    "{P}'s {A} dog {VP} {T}.",
]
DAYS = ["Mondays", "Tuesdays", "weekends", "holidays", "rainy days", "birthdays", "Sunday evenings"]
V_S = ["enjoys", "orders", "forgets", "shares", "avoids", "buys", "cooks", "brings", "hides", "cleans",
       "tastes", "wraps"]


# Filled longest key first so that {P2} is not read as {P} followed by "2}".
POOLS = {"{P}": PEOPLE, "{P2}": PEOPLE, "{T}": THINGS, "{T2}": THINGS, "{L}": PLACES, "{TI}": TIMES,
         "{TI2}": ["noon", "dinner", "the meeting", "the guests arrive", "it gets dark", "Friday", "lunch"],
         "{TI3}": ["breakfast", "last Tuesday", "the spring", "nine o'clock", "the holidays", "early morning"],
         "{A}": ADJ, "{A2}": ADJ, "{AD}": ADV, "{V}": V_BASE, "{V2}": V_BASE, "{VP}": V_PAST, "{VI}": V_ING,
         "{AN}": ANIMALS, "{FO}": FOODS, "{FO2}": FOODS, "{NUM}": NUMBERS, "{F}": FEELINGS, "{WE}": WEATHER,
         "{WE2}": WEATHER, "{DAY}": DAYS, "{VS}": V_S}
FILL_ORDER = sorted(POOLS, key=len, reverse=True)


def _fill(t, rng):
    out = t
    for key in FILL_ORDER:
        while key in out:
            out = out.replace(key, rng.choice(POOLS[key]), 1)
    return out[0].upper() + out[1:]


def grammar(n, seed=101):
    rng, seen = random.Random(seed), set()
    out = []
    while len(out) < n:
        s = _fill(rng.choice(TEMPLATES), rng)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def dictionary_words(path=CMUDICT):
    words = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            w = line.split(" ", 1)[0]
            if re.fullmatch(r"[a-z]{2,12}", w):
                words.append(w)
    return sorted(set(words))


def salad(n, seed=202, path=CMUDICT):
    """Word sequences from the pronouncing dictionary: the phone coverage a grammar of a few hundred words lacks.
    Short words are drawn more often (1 / length), so a line is not all rare long names."""
    words = dictionary_words(path)
    w = [1.0 / len(x) for x in words]
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(4, 9)
        s = " ".join(rng.choices(words, weights=w, k=k))
        out.append(s[0].upper() + s[1:] + ".")
    return out


def text_key(s):
    """Case and punctuation ignored: how a broad line and a held-out sentence are compared."""
    return re.sub(r"[^a-z ]", "", s.lower()).strip()


def broad_sentences(n_grammar=4000, n_salad=1600):
    """The broad split's texts. None may equal an evaluation sentence (asserted here); fresh_sentences.fresh_set
    asserts the same for every fresh set, so a new fresh set is checked against this text, not this text changed."""
    from sentences import eval_sentences
    held = {text_key(s) for s in eval_sentences()}
    out = grammar(n_grammar) + salad(n_salad)
    assert not any(text_key(s) in held for s in out), "a broad line equals an evaluation sentence"
    return out


def broad_extra_sentences(k, n_grammar=2000, n_salad=3600):
    """Extra broad split k (k = 2, 3, ...): the same generators with other seeds (session 21: more text at the same
    codes, and a codebook learned with it, read unseen sentences better). More salad than grammar: another 4,000
    grammar lines would mostly recombine the same ~1,000 words. No line equals a line of the broad split or of an
    earlier extra split, and no line is near a held-out sentence (evaluation or any fresh set) by the test a fresh set
    must pass (fresh_sentences.near_held_out: equal, or 60 % of its content words shared)."""
    from fresh_sentences import SETS, content_words, near_held_out
    from sentences import eval_sentences
    assert k >= 2
    held = [(text_key(s), content_words(s)) for s in eval_sentences() + [x for v in SETS.values() for x in v]]
    seen = {text_key(s) for s in broad_sentences()}

    def fresh_lines(lines, n):
        out = []
        for s in lines:
            key, words = text_key(s), content_words(s)
            if key in seen or any(near_held_out(h_key, h_words, key, words) for h_key, h_words in held):
                continue
            seen.add(key)
            out.append(s)
            if len(out) == n:
                break
        return out

    for j in range(2, k + 1):         # earlier extra splits first: their lines are taken before split k's
        shift = 200 * (j - 2)
        lines = (fresh_lines(grammar(n_grammar + 1000, seed=303 + shift), n_grammar)
                 + fresh_lines(salad(n_salad, seed=404 + shift), n_salad))
    return lines


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    b = broad_sentences()
    print(len(b), "sentences,", len({w for s in b for w in text_key(s).split()}), "distinct words")
    for s in random.Random(3).sample(b, n):
        print(s)
