"""Varied English sentences for the agent voice (flite slt): a small random grammar plus the part-1 texts.

train_sentences(): the 13 replies (several copies), user phrasings of part 1 and grammar sentences.
eval_sentences(): 20 fixed sentences that never occur in training (checked), used for the WER report.
"""
import random
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from corpus_text import REPLIES, phrasings  # noqa: E402

NAMES = ["Anna", "Peter", "Maria", "John", "Sarah", "David", "Laura", "Michael", "Emma", "Robert", "Olivia",
         "James", "Sophie", "Daniel", "Grace", "Thomas"]
PLACES = ["the station", "the library", "the market", "the office", "the airport", "the hospital", "the park",
          "the bank", "the museum", "the harbor", "the school", "the bakery", "the hotel", "the river"]
OBJECTS = ["the letter", "a new card", "the report", "my wallet", "the tickets", "a small package", "the keys",
           "the documents", "a blue umbrella", "the contract", "a cup of coffee", "the receipt", "the phone"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "tomorrow", "today",
        "next week", "this morning", "tonight", "last year"]
NUMS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "a hundred", "two hundred", "one thousand",
        "five thousand", "seventy five", "ninety nine"]
UNITS = ["dollars", "minutes", "days", "people", "percent", "accounts", "payments", "miles", "hours", "cards"]
ADJ = ["quick", "quiet", "bright", "heavy", "simple", "careful", "friendly", "strange", "early", "late",
       "important", "expensive", "cheap", "busy", "safe", "open", "closed", "ready", "happy", "tired"]
VERBS_PAST = ["found", "opened", "signed", "moved", "checked", "brought", "sent", "lost", "paid", "booked",
              "cleaned", "painted", "fixed", "ordered", "returned", "answered", "closed", "printed"]
VERBS = ["open", "check", "send", "transfer", "cancel", "confirm", "update", "close", "review", "block",
         "activate", "change", "verify", "explain", "repeat", "schedule"]
STARTS = ["Please", "Sure,", "Of course,", "Okay,", "Alright,", "Thank you,", "Certainly,", "Right,", "Well,",
          "Good news,", "Unfortunately,", "Just a moment,"]

TEMPLATES = [
    "{S} I will {V} {O} for you.",
    "{N} {VP} {O} at {P} on {D}.",
    "The {A} train leaves {P} at {NUM} o'clock.",
    "Your balance is {NUM} {U} as of {D}.",
    "We can {V} your account within {NUM} {U}.",
    "{S} the {A} office is next to {P}.",
    "Did {N} {V} {O} before {D}?",
    "I think {N} left {O} at {P}.",
    "There are {NUM} {U} waiting at {P}.",
    "{S} could you {V} the payment of {NUM} {U}?",
    "My friend {N} works at {P} every {D}.",
    "It was a {A} and {A} day at {P}.",
    "{S} your transfer of {NUM} {U} is {A}.",
    "Would you like me to {V} {O} now?",
    "{N} said the meeting is on {D} at {P}.",
    "The interest rate is {NUM} {U} per year.",
    "{S} we are {A} from {NUM} to {NUM}.",
    "How many {U} do you need for {D}?",
    "{N} and {N} {VP} {O} together.",
    "Please call us again {D} if you need help.",
    "I have {VP} {O} and it is {A} now.",
    "The {A} branch opens at {NUM} on {D}.",
    "{S} please {V} {O} and {V} the account.",
    "Where did you put {O}, {N}?",
    "We {VP} {NUM} {U} to {P} {D}.",
]


def _fill(t, rng):
    out = t
    for key, pool in (("{S}", STARTS), ("{N}", NAMES), ("{P}", PLACES), ("{O}", OBJECTS), ("{D}", DAYS),
                      ("{NUM}", NUMS), ("{U}", UNITS), ("{A}", ADJ), ("{VP}", VERBS_PAST), ("{V}", VERBS)):
        while key in out:
            out = out.replace(key, rng.choice(pool), 1)
    return out[0].upper() + out[1:]


EVAL_SENTENCES = [
    "The weather will be sunny and warm this afternoon.",
    "Please remember to bring your passport to the meeting.",
    "My sister bought a red bicycle last summer.",
    "The children are playing football in the garden.",
    "We need to buy milk, bread and some apples.",
    "The doctor will see you in about ten minutes.",
    "Turn left at the corner and walk straight ahead.",
    "He forgot his umbrella on the bus this morning.",
    "The restaurant closes at eleven on weekdays.",
    "Can you send me the pictures from the party?",
    "Our flight to London was delayed by two hours.",
    "She reads a new book every single week.",
    "The kitchen window is broken again.",
    "I would like a glass of water, please.",
    "They moved to a small house near the sea.",
    "The concert starts at eight in the evening.",
    "Your package will be delivered on Thursday.",
    "Please write your name at the top of the page.",
    "The cat is sleeping under the warm blanket.",
    "We watched a funny movie with our friends.",
]


def eval_sentences():
    return list(EVAL_SENTENCES)


def train_sentences(n_grammar=1300, n_user=700, reply_copies=6, seed=7):
    rng = random.Random(seed)
    out = []
    for _ in range(reply_copies):
        out.extend(REPLIES.values())
    ph = phrasings(20240611)
    users = sorted({s for v in ph.values() for s in v["train"] + v["heldout"]})
    rng.shuffle(users)
    out.extend(s[0].upper() + s[1:] + "." for s in users[:n_user])
    seen = set()
    while len(seen) < n_grammar:
        s = _fill(rng.choice(TEMPLATES), rng)
        if s not in seen:
            seen.add(s)
            out.append(s)
    ev = {e.lower() for e in EVAL_SENTENCES}
    out = [s for s in out if s.lower() not in ev]
    return out


if __name__ == "__main__":
    tr = train_sentences()
    print(len(tr))
    for s in random.Random(1).sample(tr, 15):
        print(s)
