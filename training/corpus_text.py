"""Text side of the demo corpus: intents, exact agent replies and user-phrasing grammars.

Every user phrasing is generated from hand-written core sentences combined with politeness
prefixes/suffixes and fillers. Whole core sentences are held out per intent (seeded) so the
evaluation sees paraphrases whose core wording never occurs in training.
"""
import random

REPLIES = {
    "greeting": "Hello, thank you for calling Harbor Bank. How can I help you today?",
    "opening_hours": "Our branches are open from nine to five, Monday to Friday.",
    "check_balance": "Your checking account balance is one thousand two hundred dollars.",
    "lost_card": "I have blocked your card. A new one will arrive within five days.",
    "speak_to_agent": "Sure, I am transferring you to an agent now.",
    "branch_location": "Our main branch is at ten Market Street, next to the library.",
    "recent_transactions": "Your last payment was forty dollars at the grocery store.",
    "transfer_money": "How much would you like to transfer, and to which account?",
    "loan_info": "Our personal loans start at five percent interest per year.",
    "thanks_goodbye": "You are welcome. Goodbye, and have a nice day.",
    "confirm": "Great, that is done.",
    "cancel": "Okay, I have cancelled that.",
    "fallback": "Sorry, I can help with balances, cards, transfers, loans, hours and branches.",
}
INTENTS = list(REPLIES.keys())


def _expand(pattern):
    """Expand '{a|b|c}' alternations (no nesting) into all combinations."""
    out = [""]
    i = 0
    while i < len(pattern):
        if pattern[i] == "{":
            j = pattern.index("}", i)
            alts = pattern[i + 1:j].split("|")
            out = [o + a for o in out for a in alts]
            i = j + 1
        else:
            k = pattern.find("{", i)
            k = len(pattern) if k < 0 else k
            out = [o + pattern[i:k] for o in out]
            i = k
    return [" ".join(o.split()) for o in out]


def _many(*patterns):
    res = []
    for p in patterns:
        res.extend(_expand(p))
    # keep order, drop duplicates / empties
    seen, uniq = set(), []
    for r in res:
        if r and r not in seen:
            seen.add(r)
            uniq.append(r)
    return uniq


# Core sentences per intent (each pattern expands to several cores).
CORES = {
    "greeting": _many(
        "{hello|hi|hey|hiya|howdy|greetings}",
        "{hello|hi|hey} there",
        "good {morning|afternoon|evening|day}",
        "{hello|hi} is anybody there",
        "{hello|hi} {can|could} you hear me",
        "hi how are you",
        "hello how are you doing",
        "hey good morning",
        "hello hello",
        "yes hello",
        "hi {i am calling|i'm calling} {the bank|harbor bank}",
        "hello is this harbor bank",
        "is this the bank",
        "hello anyone there",
        "good afternoon harbor bank",
        "hi there how is it going",
        "morning",
        "hello i need some help",
        "hi i have a question",
    ),
    "opening_hours": _many(
        "what time do you {open|close}",
        "what are your {opening|business|office|branch} hours",
        "when {are you|is the bank|is the branch} open",
        "are you open on {saturday|sunday|saturdays|sundays|the weekend|weekends|monday|friday|holidays}",
        "{when|what time} does the {bank|branch|office} {open|close}",
        "how late are you open",
        "how late is the branch open {today|tonight|}",
        "are you open {today|tomorrow|right now|now}",
        "what days are you open",
        "what {are|is} the {hours|opening times|schedule} of the {bank|branch}",
        "until what time {are you|is the bank} open",
        "is the bank {closed|open} {today|tomorrow|on sunday}",
        "do you open early",
        "can i come in on saturday",
        "tell me your opening hours",
        "i want to know your hours",
        "when can i visit the branch",
    ),
    "check_balance": _many(
        "what is my {balance|account balance|current balance}",
        "how much money {do i have|is in my account|is left in my account|have i got}",
        "check my {account balance|balance|checking account|savings}",
        "{can you|could you|please} {tell me|check} my balance",
        "i want to {know|check|hear} my balance",
        "i'd like to {know|check} my {balance|account balance}",
        "what's my balance",
        "how much do i have in {checking|my checking account|my account|the bank}",
        "balance {inquiry|check}",
        "show me my balance",
        "what is the balance {on|of} my {account|checking account}",
        "how much is {in|on} my account",
        "do i have enough money in my account",
        "account balance",
        "give me my balance",
        "what do i have in my account",
    ),
    "lost_card": _many(
        "i lost my {card|credit card|debit card|bank card}",
        "my {card|credit card|debit card|wallet} {was|has been|got} stolen",
        "please {block|cancel|freeze|stop} my card",
        "{block|freeze|cancel} my {card|credit card|debit card}",
        "i can't find my {card|credit card|debit card}",
        "someone stole my {card|wallet|purse}",
        "i {think i|} {lost|misplaced} my {card|credit card|debit card}",
        "my card is missing",
        "report a {lost|stolen} card",
        "i need to report {a lost|a stolen|my} card",
        "i need a {new|replacement} card",
        "my card {was lost|is gone|got lost}",
        "lost card",
        "stolen card",
        "i left my card {somewhere|at the store|in a taxi}",
    ),
    "speak_to_agent": _many(
        "i want to {speak|talk} to a {person|human|real person|representative|agent}",
        "{agent|representative|operator|human} please",
        "connect me to {customer service|an agent|a person|someone|a representative}",
        "{can|could|may} i {speak|talk} {to|with} {someone|a human|an agent|a real person}",
        "transfer me to {an agent|a person|customer service|an operator}",
        "let me talk to {a human|someone real|a person}",
        "i need {a human|a real person|to speak to someone}",
        "get me {a person|an agent|a human}",
        "{put me through|connect me} to {someone|a real person}",
        "speak to {an agent|a representative|a human}",
        "i don't want to talk to a machine",
        "is there a real person i can talk to",
        "customer {service|support} please",
        "talk to a human",
    ),
    "branch_location": _many(
        "where are you located",
        "what is your {address|location|street address}",
        "where is the {closest|nearest|main} {branch|office|bank}",
        "where {is|can i find} {a|the} branch",
        "how do i get to {the|your} {branch|bank|office}",
        "where is your {branch|office|bank}",
        "is there a branch {near me|nearby|close by|in town}",
        "what's the address of {the|your} {bank|branch|main branch}",
        "find {a|the nearest} branch",
        "where can i visit you",
        "give me the branch address",
        "which street is the bank on",
        "tell me where the {branch|bank} is",
        "branch location",
        "i want to go to {a|the} branch where is it",
    ),
    "recent_transactions": _many(
        "what was my last {transaction|payment|purchase}",
        "show {me|} my recent {payments|transactions|purchases|activity}",
        "what did i {spend|buy|pay} recently",
        "{list|read} my {last|recent|latest} {transactions|payments}",
        "what {was|were} my {latest|recent|last} {charge|charges|payments}",
        "{can you|could you|please} {tell me|read me} my last {payment|transaction}",
        "i want to {see|hear|check} my {recent|last} {transactions|payments}",
        "recent {transactions|activity|payments}",
        "what did i pay for {last|yesterday}",
        "where did i spend money recently",
        "show my account activity",
        "what was the last thing i bought",
        "what came out of my account {recently|last}",
        "any recent charges on my account",
    ),
    "transfer_money": _many(
        "i want to {transfer|send|move} money",
        "{move|transfer|put} {money|some money|funds} {to|into} {savings|my savings|my savings account|checking|another account}",
        "make a {transfer|payment|bank transfer}",
        "i'd like to {transfer|send|wire} {money|some money|funds}",
        "{can|could} i {transfer|send|move} {money|some money|funds}",
        "{send|wire} money to {my friend|my mother|someone|another account}",
        "transfer {funds|money} {please|between accounts|between my accounts}",
        "i need to {pay|send money to} someone",
        "how do i transfer money",
        "help me {transfer|send} money",
        "money transfer",
        "i want to make a {transfer|wire transfer}",
    ),
    "loan_info": _many(
        "tell me about {loans|your loans|personal loans|mortgages}",
        "what are your {loan|interest|mortgage|lending} rates",
        "{can|could} i {get|apply for|take out} a {loan|personal loan|mortgage}",
        "i {want|need|would like} {a loan|to borrow money|a personal loan|to apply for a loan}",
        "how do i {get|apply for} a loan",
        "what is the interest rate {on|for} {loans|a loan|personal loans}",
        "do you {offer|have|give} {loans|personal loans|car loans}",
        "loan {information|options|rates|please}",
        "i'm interested in a loan",
        "how much can i borrow",
        "information about borrowing money",
        "what does a loan cost",
    ),
    "thanks_goodbye": _many(
        "thank you {goodbye|bye|very much}",
        "thanks {that is all|that's all|that's it|bye|a lot}",
        "{bye|goodbye|bye bye|see you|have a good day}",
        "that's all {thank you|thanks|for today|i needed}",
        "{thank you|thanks} {so much|for your help|for the help}",
        "okay thanks bye",
        "i'm done {thanks|thank you|now}",
        "nothing else thanks",
        "that is everything {thank you|goodbye}",
        "cheers {bye|thanks|}",
        "great thanks goodbye",
        "thanks for your help goodbye",
        "ok bye",
        "all good thank you",
    ),
    "confirm": _many(
        "{yes|yeah|yep|yup|sure|correct|right|exactly|absolutely|definitely|of course|affirmative|certainly}",
        "yes please",
        "{yes|yeah} {that is|that's} {right|correct}",
        "that is {right|correct}",
        "that's {right|correct|fine|perfect|it}",
        "{yes|yeah} {go ahead|do it|please do|sure|confirm}",
        "go ahead",
        "please do",
        "sounds good",
        "i confirm",
        "{ok|okay} {yes|do it|go ahead|sure}",
        "yes {exactly|correct|indeed}",
        "sure thing",
        "yes that's what i want",
        "please go ahead",
        "confirmed",
        "do it",
    ),
    "cancel": _many(
        "{no|nope|nah|cancel|stop|never mind}",
        "cancel {that|it|this|the request|the transfer}",
        "no thanks",
        "no thank you",
        "{no|nope} {don't|do not} do that",
        "{don't|do not} {do it|do that|proceed}",
        "{stop|forget} {that|it|about it}",
        "never mind {that|forget it|}",
        "no cancel {it|that|please}",
        "please cancel",
        "{no|nope} {that's|that is} {wrong|not right|not correct|incorrect}",
        "i changed my mind",
        "{abort|undo} {that|it}",
        "not now",
        "no i don't want that",
        "scratch that",
    ),
}

# Out-of-domain material for the fallback intent.
FALLBACK_CORES = _many(
    "what's the weather {like|} {today|tomorrow|this weekend|in london|in paris}",
    "will it rain {today|tomorrow|this afternoon}",
    "is it going to be {sunny|cold|hot|windy} {today|tomorrow}",
    "who won the {game|match|football game|world cup|super bowl} {last night|yesterday|}",
    "what's the score of the {game|match}",
    "when does the {football|basketball|baseball|hockey} season start",
    "how do i {cook|make|bake} {pasta|rice|a cake|pancakes|bread|soup|an omelette}",
    "give me a recipe for {lasagna|chicken curry|apple pie|tomato soup|chocolate cookies}",
    "how long do i boil {an egg|potatoes|pasta}",
    "how do i get to the {airport|train station|museum|beach|stadium|zoo}",
    "directions to the {nearest gas station|city center|hospital|pharmacy}",
    "how far is it to {new york|chicago|the mountains|the coast}",
    "tell me a joke",
    "sing me a song",
    "what is the meaning of life",
    "how old are you",
    "what is your {name|favorite color|favorite food}",
    "are you a robot",
    "do you like {music|movies|dogs|cats|pizza}",
    "i want to order a pizza",
    "book a table for {two|four} {tonight|at eight}",
    "call {a taxi|my mother|the doctor|the police}",
    "what's on tv tonight",
    "play some {music|jazz|rock music|classical music}",
    "set an alarm for {seven|six thirty|tomorrow morning}",
    "remind me to {buy milk|call john|walk the dog}",
    "what time is it {in tokyo|now|}",
    "what's the capital of {france|spain|japan|australia|canada}",
    "how tall is the {eiffel tower|empire state building}",
    "who is the president of {france|the united states}",
    "translate hello into {spanish|french|german}",
    "my internet is not working",
    "i want to change my {phone plan|mobile plan|electricity provider}",
    "can you fix my {computer|printer|phone}",
    "i need a plumber",
    "is the {pharmacy|supermarket|post office|library} open",
    "where can i buy {shoes|a new phone|groceries|flowers}",
    "how do i renew my {passport|driver's license}",
    "i want to book a {flight|hotel|train ticket} to {boston|madrid|rome}",
    "what movies are playing {tonight|this weekend}",
    "recommend a good {book|movie|restaurant|podcast}",
    "my {dog|cat} is sick",
    "how many calories are in {an apple|a banana|a burger}",
    "what is two plus two",
    "how do you spell {necessary|restaurant|banana}",
    "the cat sat on the mat",
    "the quick brown fox jumps over the lazy dog",
    "{purple|green} {elephants|monkeys} dance in the {rain|garden}",
    "i like {turtles|trains|gardening|painting}",
    "my favorite {color|season} is {blue|autumn|green|summer}",
    "the {train|bus} was late this morning",
    "i had a {great|terrible|busy|long} day",
    "can you help me with my homework",
    "what should i wear today",
    "where is my package",
    "i want to return {a product|these shoes|my order}",
    "is this the {pizza place|dentist|insurance company|phone company|airline}",
    "i want to {cancel my gym membership|upgrade my phone|talk about my insurance policy}",
    "how do i reset my email password",
    "my car {won't start|broke down|needs new tires}",
    "what's the best way to learn {guitar|french|to swim}",
    "do you know any good {jokes|stories|songs}",
    "how is the traffic {today|on the highway}",
    "bananas are yellow",
    "it is very {cold|hot|windy|quiet} {outside|today|in here}",
    "the meeting starts at {ten|noon|three}",
    "let's go to the {park|beach|cinema|mall}",
    "who wrote {hamlet|the odyssey}",
    "how do airplanes fly",
    "why is the sky blue",
    "what is the price of {gold|bitcoin|oil} today",
    "buy some {stocks|shares} for me",
    "i'm looking for a job",
    "open the {window|door|garage}",
    "turn on the {lights|radio|heater}",
    "um",
    "uh what",
    "blah blah blah",
    "testing testing one two three",
)

PREFIXES = ["", "", "", "", "um", "uh", "so", "well", "okay", "yes", "hi", "hello", "excuse me",
            "please", "hey", "sorry", "oh", "right", "hmm", "good morning", "actually", "listen"]
SUFFIXES = ["", "", "", "", "please", "thanks", "thank you", "now", "today", "right now", "if you can",
            "for me", "okay", "then", "quickly", "please help"]
# some intents must not get certain affixes (they would change the meaning)
NO_AFFIX = {"confirm", "cancel", "greeting", "thanks_goodbye"}
SAFE_PREFIXES = ["", "", "", "um", "uh", "well", "oh", "hmm", "so", "ah", "er", "okay", "right"]
SAFE_SUFFIXES = ["", "", "", "", "", "", "then", "now"]
SAFE_SUFFIXES_BY_INTENT = {"greeting": ["", "", "", "there", "again"], "thanks_goodbye": ["", "", "", "then", "now"],
                           "confirm": ["", "", "", "please", "thanks"], "cancel": ["", "", "", "please", "thanks"]}

# Extra paraphrases that never appear in training (hand-written, evaluation only).
HELDOUT_EXTRA = {
    "greeting": ["hi there good evening", "hello good day to you", "hey is someone on the line"],
    "opening_hours": ["are your doors open on a sunday", "what hours does the bank keep",
                      "how early can i come to the branch"],
    "check_balance": ["how much cash is sitting in my account", "tell me what my balance is",
                      "what is the current amount in my checking"],
    "lost_card": ["my bank card disappeared", "i think somebody took my credit card",
                  "please stop my stolen card"],
    "speak_to_agent": ["i would rather talk to a real human being", "can you get me a representative",
                       "please put me through to an operator"],
    "branch_location": ["where exactly is your bank", "what street is your main office on",
                        "how can i find your nearest branch"],
    "recent_transactions": ["what were my last few payments", "tell me about my latest purchases",
                            "what have i spent money on lately"],
    "transfer_money": ["i need to move some funds to my savings", "could you send money for me",
                       "i would like to do a transfer"],
    "loan_info": ["what rates do you charge for a personal loan", "i am thinking about borrowing money",
                  "do you have any loan offers"],
    "thanks_goodbye": ["okay that is all thank you bye", "thanks so much have a good day",
                       "that was everything goodbye"],
    "confirm": ["yes that is correct", "yeah go for it", "sure please do that"],
    "cancel": ["no please don't", "cancel it please", "no i changed my mind"],
    "fallback": ["what will the weather be like on friday", "who is playing in the final tonight",
                 "how do i make fried rice", "what is the tallest mountain in the world",
                 "can you order me a taxi to the airport", "my washing machine is broken"],
}


def phrasings(seed=1234, heldout_frac=0.15, decorate_seed=None):
    """Return {intent: {"train": [...], "heldout": [...]}} of distinct user phrasings. `seed` splits the cores into
    training and held-out ones; `decorate_seed` (default: the same stream) draws other prefixes/suffixes for them."""
    rng = random.Random(seed)
    drng = random.Random(decorate_seed) if decorate_seed is not None else rng
    out = {}
    for intent in INTENTS:
        cores = list(FALLBACK_CORES if intent == "fallback" else CORES[intent])
        rng.shuffle(cores)
        n_hold = max(3, int(round(len(cores) * heldout_frac)))
        hold_cores, train_cores = cores[:n_hold], cores[n_hold:]
        pre = SAFE_PREFIXES if intent in NO_AFFIX else PREFIXES
        suf = SAFE_SUFFIXES_BY_INTENT.get(intent, SAFE_SUFFIXES) if intent in NO_AFFIX else SUFFIXES

        def decorate(core_list, n_per, r):
            res = []
            for c in core_list:
                res.append(c)
                for _ in range(n_per):
                    p, s = r.choice(pre), r.choice(suf)
                    res.append(" ".join(x for x in (p, c, s) if x))
            return sorted(set(res))

        tr = decorate(train_cores, max(3, -(-160 // max(1, len(train_cores)))), drng)
        ho = decorate(hold_cores, 1, drng) + HELDOUT_EXTRA.get(intent, [])
        ho = sorted(set(ho) - set(tr))
        out[intent] = {"train": tr, "heldout": ho}
    return out


if __name__ == "__main__":
    p = phrasings()
    for k, v in p.items():
        print(f"{k:22s} train {len(v['train']):5d}  heldout {len(v['heldout']):4d}   e.g. {v['train'][:2]}")
