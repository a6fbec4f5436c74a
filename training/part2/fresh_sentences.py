"""Pocketsphinx WER of the resynthesis (flite slt -> semantic tokens -> streaming detokenizer with N Euler steps ->
chunked vocoder) on 20 sentences used nowhere else: not in training, not in evaluate_part2.py's sets, and not used
for any earlier choice. Session 7 chose N with it (training/REPORT-part2.md §0d), because the 33 evaluation clips
had already been used to choose N once. Re-use makes it a test set no longer: write new sentences for the next choice.
Set "b" was written in session 8 for the next choices (the vocoder fine-tuned on detokenizer mels, the DiT trained
on for N = 1); set "a" has been used for the N choice. Set "c" was written in session 9, after both were used;
set "d" in session 10, for its choice among DiTs trained on more of the replies (c had been used once), and set
"e" in session 10, after that choice, to check it once on sentences no choice had seen. Set "f" was written in
session 11, after the broad training text (broad_text.py) was fixed, to check the DiT trained on it once. Set "g"
was written in session 12 after set f had been used, before the results of its second stage. Set "h" was written at
the start of session 13, before any of its results (all earlier sets had been used); set "i" (30 sentences) in
session 14 after h was used, for the chunk-size choice; set "j" (30 sentences) at the start of session 15, for the
4,096-id pack's choice; set "k" (40 sentences) at the start of session 16, for the rebuilt
4,096-id pack's choice; set "l" (40 sentences) after k was used, for the DiT trained on further; set "m" (40
sentences) at the start of session 17, for the codebook-factorised token embedding; set "n" (40 sentences) at the
start of session 18. `--set S --check` lists a set's collisions and near-duplicates (>= 60 % of content words shared
with any training, broad, evaluation or other fresh sentence) before its first use. --units tokenizes with another
unit file than the installed one (a candidate codebook).
-> work/part2/eval/fresh_sentences.json (set a) or fresh_sentences_b_DETOKRUN_VOCODERRUN.json under training/
usage: /usr/bin/python3 training/part2/fresh_sentences.py [--set a|b|c|d|e|f|g|h|i|j|k|l|m|n] [--check]
           [--steps 1,2] [--threads 2] [--detok-run detok] [--vocoder-run vocoder] [--units work/part2/units_s13.pt]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import TRAINING, WORK2, pad_to_tokens, save_json  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import load, recognize, wer  # noqa: E402
from broad_text import broad_sentences, text_key  # noqa: E402
from make_data import flite_slt  # noqa: E402
from sentences import eval_sentences, train_sentences  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables, vocode_chunks  # noqa: E402
from tokenize_data import tokenize  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402
from infer import load_encoder  # noqa: E402

FRESH = [
    "The library closes early on public holidays.", "My sister planted tomatoes in the back garden.",
    "Could you turn the music down a little, please?", "The train to the airport leaves every twenty minutes.",
    "We watched the sunset from the top of the hill.", "He forgot his umbrella at the office again.",
    "The children built a castle out of sand.", "Our neighbours bought a small red car last week.",
    "Please send the report before Thursday afternoon.", "The soup tastes better with a little more salt.",
    "She plays the piano every morning before work.", "The museum has a new exhibition about whales.",
    "I usually drink coffee with milk and no sugar.", "The storm knocked down three trees on our street.",
    "They are painting the kitchen a pale yellow.", "The doctor asked me to come back in two weeks.",
    "A black cat was sleeping on the warm roof.", "We need more chairs for the meeting room.",
    "The bakery sells fresh bread until noon.", "My phone battery died halfway through the call.",
]
FRESH_B = [
    "The farmer sold his apples at the market on Saturday.", "Grandmother knitted a warm scarf for the winter.",
    "The bus driver waited for the old man to sit down.", "Our teacher read us a story about a brave fox.",
    "Turn left after the bridge and park near the church.", "The river was too cold for swimming in April.",
    "I lost my keys somewhere between the shop and home.", "Two ducks were swimming slowly across the pond.",
    "The mechanic said the brakes need to be replaced.", "She wrote a long letter to her cousin in Spain.",
    "Dinner will be ready as soon as the rice is cooked.", "The hotel room had a lovely view of the harbour.",
    "We should leave now if we want to catch the ferry.", "The little boy laughed when the puppy licked his face.",
    "Somebody left the garden gate open last night.", "The price of petrol went up again this month.",
    "My brother is learning to play the violin.", "The nurse checked his temperature every hour.",
    "Fresh snow covered the mountains in the morning.", "They moved to a quiet village near the coast.",
]
FRESH_C = [
    "The postman left a parcel behind the blue door.", "Please wipe your boots before you come inside.",
    "The carpenter fixed the broken step with a new board.", "We picked strawberries until our baskets were full.",
    "The lighthouse keeper lit the lamp every evening.", "Her grandfather told funny stories about the war.",
    "The football match was cancelled because of the rain.", "I put the milk back in the fridge after breakfast.",
    "A young deer crossed the road in front of our car.", "The students waited quietly outside the exam hall.",
    "He painted a picture of the boats in the harbour.", "Could you lend me a pen for a moment?",
    "The cake needs another ten minutes in the oven.", "The gardener trimmed the hedge along the narrow lane.",
    "The old clock in the hall stopped at midnight.", "She keeps her bicycle in the shed behind the house.",
    "The waiter brought us two glasses of cold water.", "My uncle repairs watches in a tiny shop downtown.",
    "The baby fell asleep as soon as the car started.", "We will plant the roses when the ground is softer.",
]
FRESH_D = [
    "The plumber came on Tuesday to fix the leaking pipe.", "A flock of geese flew south over the valley.",
    "Remember to water the plants while we are away.", "The shop on the corner sells newspapers and sweets.",
    "My friend bought a second hand guitar for his son.", "The kettle is boiling, so let us make some tea.",
    "Thick fog made the drive home slow and careful.", "The pilot welcomed everyone on board the small plane.",
    "We found an old map hidden inside the attic.", "The dentist said my teeth are in good shape.",
    "Our dog barks loudly whenever the doorbell rings.", "The fishermen returned with a heavy catch at dawn.",
    "Please close the window, it is getting rather cold.", "The choir sang beautifully at the wedding.",
    "He bought a new pair of running shoes yesterday.", "The town hall clock was repaired last spring.",
    "She baked a lemon tart for the school fair.", "The tired hikers rested beside the quiet stream.",
    "I will call you back after lunch on Friday.", "The wind blew the leaves across the empty yard.",
]
FRESH_E = [
    "The baker wakes up at four to light the ovens.", "Two boys were flying a kite on the windy beach.",
    "Please put the dirty plates in the sink.", "The orchestra tuned their instruments before the concert.",
    "My aunt grows herbs on her kitchen window sill.", "The bridge was closed for repairs all summer.",
    "A small boat drifted slowly towards the island.", "He always reads the newspaper on the morning train.",
    "The farmer's dog chased the sheep into the field.", "We ran out of bread, so I went to the shop.",
    "The new library opens on the first of June.", "Her brother fixed the flat tyre on my bike.",
    "The moon was bright enough to read by.", "They served hot chocolate after the long walk.",
    "The teacher wrote the answers on the board.", "Our cat likes to sleep in the laundry basket.",
    "The village holds a market every other Sunday.", "I found a spider in the bath this morning.",
    "The painter climbed a ladder to reach the roof.", "We heard an owl calling from the tall pine trees.",
]
FRESH_F = [
    "A strong wind blew the leaves across the yard.", "My grandfather tells the same joke every winter.",
    "The nurse checked his temperature twice an hour.", "Please close the gate so the dog stays inside.",
    "The train was full of students going home.", "She painted the fence white last weekend.",
    "We found an old coin buried in the sand.", "The soup needs a little more salt and pepper.",
    "He practises the guitar before school each day.", "The museum has a new room full of dinosaur bones.",
    "Our neighbours are building a wooden shed.", "The baby laughed when the balloon popped.",
    "I lost my gloves somewhere on the way to work.", "The fisherman caught three large trout before noon.",
    "They planted tomatoes and beans behind the house.", "The storm knocked down a tree on our street.",
    "Can you help me carry these heavy boxes upstairs?", "The pilot announced that we would land soon.",
    "Fresh strawberries taste best in early summer.", "The clock in the hall stopped at a quarter past four.",
]
FRESH_G = [
    "The butcher wrapped the sausages in brown paper.", "My cousin drives a taxi in the city at night.",
    "Please switch off the lights when you leave the room.", "The swallows return to the barn every spring.",
    "A loud crash woke the whole family at midnight.", "The librarian stamped the books and smiled.",
    "We ate our sandwiches on a bench in the park.", "The tailor shortened the sleeves of my jacket.",
    "Heavy rain flooded the road near the school.", "She keeps a diary of every bird she sees.",
    "The potatoes should boil for twenty minutes.", "His grandmother lives in a cottage by the sea.",
    "The firemen rescued a kitten from the chimney.", "I forgot to buy eggs on the way home.",
    "The old ship was towed slowly into the harbour.", "Our class visited a farm to see the lambs.",
    "The printer in the office has run out of ink.", "They sat by the fire and told ghost stories.",
    "A bee landed on the rim of my glass.", "The mayor opened the new swimming pool today.",
]
FRESH_H = [
    "The carpenter measured the door frame twice.", "Our teacher read us a poem about the moon.",
    "A small boat drifted past the lighthouse.", "Please hang your wet coat near the heater.",
    "The bakery on the corner sells warm bread at dawn.", "My sister dropped her phone into the pond.",
    "The farmer sold apples from a cart by the road.", "We waited an hour for the bus in the snow.",
    "The orchestra played a waltz after the interval.", "He cut his finger while slicing onions.",
    "The parrot repeats every word it hears.", "They painted the kitchen a pale shade of green.",
    "A spider built its web across the window.", "The referee blew his whistle and the game ended.",
    "Grandma knitted a scarf for each of her grandchildren.", "The students cheered when the bell rang.",
    "I left the umbrella on the train this morning.", "The queen waved to the crowd from her carriage.",
    "Our dog chased a squirrel up the oak tree.", "The plumber fixed the leak under the sink.",
]
# Set i: written in session 14 after set h had been used, before the chunk-size measurement it decides (30 sentences
# for a less noisy choice).
FRESH_I = [
    "The mechanic replaced the brakes on my old truck.", "A gentle breeze carried the smell of roses.",
    "The children built a castle out of cardboard boxes.", "Mother sliced the melon into eight pieces.",
    "The pilot announced a short delay before landing.", "Two ducks swam slowly across the quiet lake.",
    "He forgot his keys and climbed through the window.", "The museum opens a new exhibit on dinosaurs.",
    "Our neighbor plays the trumpet every evening.", "The porter carried our trunks up the stairs.",
    "She found an old letter hidden inside the book.", "The hikers reached the summit before noon.",
    "A loud thunderclap woke the whole village.", "The baker decorated the cake with fresh berries.",
    "My brother repaired the fence after the storm.", "The kitten fell asleep in a basket of laundry.",
    "We planted tomatoes and beans in the garden.", "A tired donkey pulled the cart up the lane.",
    "A flock of geese flew south over the hills.", "The jeweler polished the silver ring for hours.",
    "The fisherman mended his net on the beach.", "Dad burned the toast again this morning.",
    "The violin lesson lasted almost two hours.", "A red kite was stuck in the tall pine tree.",
    "The nurse checked the patient every hour.", "Our class visited a farm with goats and sheep.",
    "The candle flickered and then went out.", "He painted a picture of the harbor at sunset.",
    "The twins wore matching hats to the party.", "The chef tasted the sauce and added garlic.",
]
# Set j: written at the start of session 15, before any session-15 result, for the next choice (30 sentences).
FRESH_J = [
    "The dentist asked me to open my mouth wider.", "A thick fog covered the bridge all morning.",
    "Our uncle keeps bees on the roof of his flat.", "The waiter spilled coffee on the white tablecloth.",
    "She wrapped the present in shiny blue paper.", "The goalkeeper dived and caught the ball.",
    "My watch stopped because the battery died.", "The monkeys threw peanut shells at the visitors.",
    "A young deer drank from the stream at dusk.", "The tourists took photos of the old cathedral.",
    "He sharpened his pencil before the exam began.", "The wind blew the tent into the river.",
    "Aunt Mary bakes ginger biscuits for the fair.", "The soldiers marched past the town hall.",
    "I spilled ink all over my new notebook.", "The dolphins jumped beside the ferry.",
    "The janitor locked the gym after the match.", "Snow fell quietly on the empty playground.",
    "The doctor told him to drink more water.", "A crow stole a shiny spoon from the picnic.",
    "The lawyer read the contract very carefully.", "We rowed the canoe to the little island.",
    "The cashier counted the coins twice.", "His bicycle chain broke halfway up the hill.",
    "The zoo keeper fed fish to the penguins.", "The radio played an old jazz song.",
    "My grandfather grows pumpkins in his yard.", "The elevator got stuck between two floors.",
    "A frog croaked loudly under the bridge.", "The artist mixed yellow and blue paint.",
]
# Set k: written at the start of session 16, before any session-16 result, for the rebuilt 4,096-id pack's choice
# (40 sentences: set j's 231 words could not separate a 10 % effect from noise).
FRESH_K = [
    "The librarian found a spider inside the atlas.", "A swarm of wasps built a nest in the shed.",
    "My cousin repaints his boat every spring.", "The referee showed the striker a yellow card.",
    "We ate pancakes with honey on the porch.", "The goalie wore purple socks for luck.",
    "An owl hooted in the woods behind the farm.", "The printer ran out of paper during the meeting.",
    "She peeled six oranges for the lunch boxes.", "The astronaut waved from the window of the rocket.",
    "The vet trimmed the claws of our grumpy rabbit.", "The pianist bowed before the concert started.",
    "He dropped a glass jar on the tiled floor.", "The shepherd counted his lambs at sunset.",
    "My mother hums while she irons the shirts.", "The bus stopped suddenly at the crossing.",
    "A parrot repeated every word the sailor said.", "A moth circled the lamp above the desk.",
    "I borrowed a ladder to clean the gutters.", "The orchestra rehearsed in the empty hall.",
    "Tiny ants marched across the picnic blanket.", "The captain steered the ship around the rocks.",
    "We bought a rug with a pattern of birds.", "Rain dripped through a crack in the attic.",
    "Her puppy chewed the corner of the sofa.", "The clock in the tower struck midnight.",
    "A lorry full of melons blocked the road.", "We wrapped the vase in old newspapers.",
    "The toddler splashed water all over the bathroom.", "My friend sent me a postcard from Norway.",
    "The ice cream melted before we reached the car.", "A beaver was building a dam across the creek.",
    "The poet read his verses to a small crowd.", "Grandpa fixed the squeaky hinge with oil.",
    "The hikers shared a flask of hot tea.", "The baby giggled at the bubbles in the bath.",
    "The surgeon washed her hands for five minutes.", "A gust of wind slammed the kitchen door.",
    "The students painted a mural on the school wall.", "A pigeon walked into the bakery and stole a crumb.",
]
# Set l: written in session 16 after set k was used, before the result of the choice it decides (the DiT trained on
# for 30 more minutes); 40 sentences.
FRESH_L = [
    "The lifeguard spotted a seal near the pier.", "My niece collects stamps from tiny islands.",
    "A squirrel buried acorns in the flower pot.", "The mayor cut a ribbon outside the new library.",
    "We heard a woodpecker tapping on the fence.", "The janitor found a wallet under the bleachers.",
    "Dad grilled sausages until the smoke alarm rang.", "A wasp crawled into my can of lemonade.",
    "The choir practised hymns in the chilly chapel.", "The plumber wore boots covered in mud.",
    "She knitted a tiny sweater for her hamster.", "The snowman lost his carrot nose overnight.",
    "Our teacher keeps a cactus on her desk.", "A blue whale surfaced beside the fishing boat.",
    "The courier left the parcel with a neighbour.", "The magician pulled a coin from my ear.",
    "My uncle snores louder than a tractor.", "The campers roasted marshmallows over the fire.",
    "A sudden hailstorm dented the parked cars.", "The toddler hid his shoes inside the oven.",
    "The barber hummed while he trimmed my beard.", "A raccoon tipped over the rubbish bin.",
    "The scientist peered through a cracked microscope.", "We painted the garden shed a bright orange.",
    "The detective found muddy footprints on the stairs.", "A hummingbird hovered over the red blossoms.",
    "The goat nibbled the farmer's straw hat.", "Her grandmother dances the tango on Sundays.",
    "The puppy slid across the polished floor.", "A bell rang as the ferry left the dock.",
    "The jockey fell off his horse at the last fence.", "Someone painted a smiling face on the boulder.",
    "The baker burned his thumb on the tray.", "A flock of starlings swirled above the field.",
    "The clown juggled oranges at the birthday party.", "My laptop froze during the video call.",
    "The sailor tied a knot around the mast.", "A lizard warmed itself on the garden wall.",
    "The usher showed us to our seats with a torch.", "The kettle whistled while we played chess.",
]
# Set m: written at the start of session 17, before any session-17 result, for the choice between the DiT with
# a codebook-factorised token embedding and its plain-table control (40 sentences).
FRESH_M = [
    "The tailor sewed a button onto my jacket.", "A tortoise crossed the path in front of our bikes.",
    "A weasel slipped through a gap in the hedge.", "My aunt polishes her brass candlesticks on Fridays.",
    "The cyclist fixed a flat tyre beside the canal.", "A heron stood still in the shallow pond.",
    "The juggler dropped a pineapple on his toe.", "Our class visited a cheese factory in the valley.",
    "Fog hid the lighthouse until almost noon.", "The violinist tuned her strings before the recital.",
    "A mole dug tunnels under the cricket pitch.", "The postman slipped on the icy steps.",
    "Grandma keeps her buttons in an old biscuit tin.", "The locksmith opened the safe with a paperclip.",
    "A jellyfish washed up on the pebbles.", "The twins argued about who broke the lamp.",
    "My brother trained his parrot to whistle.", "The nurse gave the boy a sticker after his injection.",
    "A fox dragged a boot across the lawn.", "The farmer repaired the gate with some wire.",
    "We watched a documentary about volcanoes in Iceland.", "The mechanic wiped the grease off his fingers.",
    "A caterpillar munched through the cabbage leaves.", "The king wore a velvet cloak to the banquet.",
    "The gardener raked the leaves into a heap.", "My dentist plays jazz in the waiting room.",
    "An ambulance raced past the crowded market.", "The goldfish jumped out of its bowl.",
    "The chef sprinkled parsley over the potatoes.", "A stray dog followed us all the way home.",
    "The drummer lost one of his sticks on stage.", "Our landlord finally mended the leaking tap.",
    "The penguins waddled toward the icy water.", "A comet streaked across the winter sky.",
    "The wizard in the story turned a frog into a prince.", "The fisherman mended his nets on the harbour wall.",
    "My sister sneezed during the wedding vows.", "The robot vacuum got stuck under the bed.",
    "A tall giraffe licked the zookeeper's hat.", "Seagulls squabbled over a bag of chips.",
]
# Set n: written at the start of session 18, before the probe results of rule s17b were read, for the next choice
# (40 sentences; `--set n --check` found no collision and no near-duplicate).
FRESH_N = [
    "The carpenter sanded the oak table until it shone.", "A moth fluttered around the porch light all night.",
    "The umpire argued with a coach about the rain.", "An owl hooted from the top of the barn.",
    "A librarian sneezed on a dusty atlas.", "Our cat knocked a vase off the windowsill.",
    "The astronaut waved from inside the capsule.", "A beaver gnawed through a young birch tree.",
    "The waiter balanced six plates on one arm.", "My grandfather repairs clocks in his tiny workshop.",
    "Two hikers shared a thermos of soup on the ridge.", "A donkey carried sacks of flour up the hill.",
    "A firefighter polished the brass bell of the engine.", "We ate pancakes with blueberries at the diner.",
    "The pilot wore mirrored sunglasses in the cockpit.", "A spider dangled above the bathroom sink.",
    "The trumpet player missed the final note.", "Mum lost her glasses on top of her head.",
    "The shepherd whistled to his collie across the valley.", "A crab pinched my toe in the rock pool.",
    "The painter dripped yellow paint on the carpet.", "Our neighbour's rooster crows before dawn.",
    "The student spilled ink across her exam paper.", "A cockatoo screeched at the delivery van.",
    "The potter shaped a bowl on the spinning wheel.", "My friend rode a camel through the desert.",
    "The guard locked the museum gates at six.", "A toad hopped into my wellington boot.",
    "The tourists photographed the ancient castle walls.", "Thunder rattled the windows of the old cottage.",
    "The infant chewed on a rubber giraffe.", "A hedgehog curled into a ball on the doorstep.",
    "The lawyer shuffled papers during the long trial.", "Our bus broke down outside the petrol station.",
    "The cook chopped onions until her eyes watered.", "A kite tangled in the branches of an elm.",
    "The gymnast balanced on one foot on the beam.", "My nephew glued feathers onto a paper hat.",
    "The florist sold the last roses to a nervous groom.", "A woodcutter sharpened his axe on a grey stone.",
]
FRESH_O = [
    "The plumber crawled under the kitchen sink with a torch.", "A squirrel buried acorns beside the garden shed.",
    "The conductor tapped his baton on the music stand.", "A goat chewed the corner of my raincoat.",
    "The zookeeper fed sardines to a grumpy penguin.", "Our kettle whistled while the toast burned.",
    "The sailor coiled a wet rope on the deck.", "A pelican swallowed a fish in one gulp.",
    "The nurse wheeled an old man into the sunshine.", "My sister knitted a scarf with purple stripes.",
    "Three children built a snowman with a carrot nose.", "A tortoise crossed the lawn in twenty minutes.",
    "The baker dusted the loaves with white flour.", "We watched fireworks from the roof of the garage.",
    "A walrus dozed on a floating slab of ice.", "A wasp buzzed against the kitchen window.",
    "The surgeon hummed softly while she scrubbed her hands.", "Dad fell asleep in front of the cricket.",
    "The farmer mended a broken fence after the storm.", "A seal barked at the fishermen on the pier.",
    "Grandma hid chocolate coins inside the teapot.", "The goalkeeper dived into the mud and missed.",
    "The toddler splashed in every puddle on the lane.", "A parrot repeated the doorbell all afternoon.",
    "The sculptor carved a horse from a block of marble.", "My uncle sold pumpkins at the village fair.",
    "The janitor swept leaves from the school steps.", "A lorry spilled turnips across the motorway.",
    "The climbers reached the summit before lunch.", "Hail bounced off the roof of the greenhouse.",
    "The puppy chased its tail around the kitchen.", "A swan glided past the rowing boats.",
    "The banker counted coins into paper bags.", "Our train stopped for an hour in a tunnel.",
    "The auctioneer sold a rusty bicycle for ten pounds.", "A balloon drifted over the church tower.",
    "The dancer twirled across the polished stage.", "My cousin painted a dragon on his bedroom wall.",
    "The gardener planted tulips along the narrow path.", "A blacksmith hammered a horseshoe on the anvil.",
]
FRESH_P = [
    "The ferryman rowed two nuns across the misty lake.", "A raccoon tipped over the dustbin behind the cafe.",
    "The organist played a hymn while the candles flickered.", "A llama spat at the boy who teased it.",
    "The welder lowered his mask and struck an arc.", "Our toaster sparked and tripped the fuses.",
    "The ice cream van played a tune outside the school.", "A flamingo balanced on one pink leg.",
    "The midwife drove through the snow at midnight.", "My aunt pickled beetroot in tall glass jars.",
    "Four soldiers marched past the statue of the king.", "A slug left a silver trail across the patio.",
    "The tailor pinned the hem of a velvet gown.", "We flew a paper dragon on the windy beach.",
    "A badger dug under the allotment fence.", "A moose wandered onto the railway line.",
    "The drummer broke a stick during his solo.", "Grandpa snored through the entire wedding speech.",
    "The miner lit his lamp before the long descent.", "An otter cracked a shell on its belly.",
    "The electrician replaced the bulbs in the hallway.", "Our vicar rides a scooter to the chapel.",
    "The twins argued over the last slice of cake.", "A magpie stole a teaspoon from the picnic.",
    "The architect unrolled the plans on the bonnet of the car.", "My brother juggled oranges at the market.",
    "The caretaker unlocked the gym for the badminton club.", "A hamster escaped through a gap in the cage.",
    "The divers found an anchor on the sea floor.", "Fog rolled down the valley before sunrise.",
    "The kitten pounced on a ball of red wool.", "A peacock spread its tail on the palace lawn.",
    "The cashier dropped a roll of coins on the tiles.", "Our plane circled the airport for an hour.",
    "A scarecrow lost its hat in the autumn gale.", "A glider soared above the chalk cliffs.",
    "The acrobat swung from a rope beneath the tent.", "My grandmother embroidered a pillow with daisies.",
    "The shepherdess counted lambs by lantern light.", "A stonemason chiselled letters into a gravestone.",
]
FRESH_Q = [
    "The beekeeper lifted a frame heavy with golden comb.", "A heron glared at the fishermen from a rusty buoy.",
    "The locksmith whistled a polka while he cut keys.", "My cousin knitted a scarf for the snowman.",
    "The trawler returned to harbour with torn nets.", "A squirrel buried acorns beneath the old oak.",
    "The conductor tapped his baton and the hall fell silent.", "Our neighbour grows prize pumpkins by the gate.",
    "The blacksmith sold candlesticks at the county show.", "A tortoise nibbled the lettuce beside the birdbath.",
    "The lifeguard blew her whistle at the swimmers.", "We roasted chestnuts over a brazier in the square.",
    "The plumber found a wedding ring inside the drainpipe.", "A woodpecker drummed on the telegraph pole.",
    "The jockey ate porridge with honey every dawn.", "My uncle carved a wooden spoon for the baby.",
    "The postwoman befriended a goose on her round.", "A kingfisher flashed blue above the stream.",
    "The surgeon collects antique maps of Portugal.", "Our dog chased a pheasant into the hedge.",
    "The librarian hid a crossword under the counter.", "A gust of wind tore the umbrella from her hand.",
    "The potter glazed twelve mugs in turquoise.", "Two hedgehogs snuffled through the fallen leaves.",
    "The astronomer polished the lens of his telescope.", "My nephew built a sandcastle with four towers.",
    "The butcher sang opera to the queue on Saturdays.", "A seagull snatched a chip from the boy's hand.",
    "The firemen unrolled the hose along the alley.", "Frost covered the windscreen of every parked car.",
    "The violinist lost her bow on the night bus.", "A donkey wore a straw bonnet at the fete.",
    "The gardener pruned the roses before the first frost.", "Our coach broke down on the mountain pass.",
    "The chemist measured the powder on a brass scale.", "A mole raised little hills across the cricket pitch.",
    "The sailor tattooed an anchor on the cook's arm.", "My sister stitched a patch onto her denim jacket.",
    "The baker iced a cake shaped like a lighthouse.", "A hot air balloon drifted over the vineyard.",
]
SETS = {"a": FRESH, "b": FRESH_B, "c": FRESH_C, "d": FRESH_D, "e": FRESH_E, "f": FRESH_F, "g": FRESH_G,
        "h": FRESH_H, "i": FRESH_I, "j": FRESH_J, "k": FRESH_K,
        "l": FRESH_L, "m": FRESH_M, "n": FRESH_N, "o": FRESH_O, "p": FRESH_P, "q": FRESH_Q}


# Function words ignored when two sentences are compared for near-duplication (--check).
STOP_WORDS = set("a an the and or but of to in on at by for from with into onto off up down over under out about "
                 "after before until while his her its our my your their he she it we they i you me him us them "
                 "is was are were be been has had have do did will would can could should all some one two".split())


def content_words(s):
    return {w for w in text_key(s).split() if w not in STOP_WORDS}


def known_sentences(name):
    """What fresh set `name` must not repeat: the training (incl. broad), evaluation and other fresh sentences."""
    return (train_sentences() + broad_sentences() + eval_sentences()
            + [s for k, v in SETS.items() if k != name for s in v])


def near_held_out(held_key, held_words, key, words, share=0.6):
    """Whether a line (text_key, content words) repeats a held-out sentence: equal, or holding at least `share` of
    the held-out sentence's content words."""
    return key == held_key or len(held_words & words) / max(1, len(held_words)) >= share


def near_duplicates(name, share=0.6):
    """(sentence, known sentence, shared fraction) for each sentence of set `name` that equals, or shares at least
    `share` of its content words with, a known sentence: such a sentence would measure memorised audio, not unseen
    text."""
    known = [(k, text_key(k), content_words(k)) for k in known_sentences(name)]
    found = []
    for s in SETS[name]:
        key, words = text_key(s), content_words(s)
        for k, k_key, k_words in known:
            if near_held_out(key, words, k_key, k_words, share):
                found.append((s, k, len(words & k_words) / max(1, len(words))))
    return found


def fresh_waves(name):
    """The sentences of set `name` and flite slt's audio of them (int16, whole tokens); none may be a known one."""
    fresh = SETS[name]
    known = {text_key(s) for s in known_sentences(name)}
    assert not any(text_key(s) in known for s in fresh), \
        "a fresh sentence is in the training (incl. broad), evaluation or other fresh set"
    with tempfile.TemporaryDirectory() as td:
        waves = [(pad_to_tokens(flite_slt(s, td)) * 32767).astype(np.int16) for s in fresh]
    return fresh, waves


def semantic_tokens(waves, units=None):
    """Part 1's tokens of whole clips, with the installed unit file or `units` (another codebook's file)."""
    return tokenize(load_encoder(os.path.join(TRAINING, "runs", "encoder", "final.pt"), units=units), waves)


def fresh_set(name, units=None):
    """The sentences of set `name`, flite slt's audio of them (int16, whole tokens) and their semantic tokens."""
    fresh, waves = fresh_waves(name)
    return fresh, waves, semantic_tokens(waves, units)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", default="a", choices=sorted(SETS))
    ap.add_argument("--detok-run", default="detok")
    ap.add_argument("--vocoder-run", default="vocoder")
    ap.add_argument("--units", default=None, help="tokenize with this unit file instead of the installed "
                    "work/part2/units.pt (e.g. the committed pack's while a candidate codebook is installed)")
    ap.add_argument("--check", action="store_true",
                    help="only list the set's collisions and near-duplicates (exit 1 if any), before its first use")
    a = ap.parse_args()
    if a.check:
        found = near_duplicates(a.set)
        for s, k, frac in found:
            print(f"{frac:.0%} of content words shared: {s!r} ~ {k!r}")
        print(f"set {a.set}: {len(SETS[a.set])} sentences, {sum(len(x.split()) for x in SETS[a.set])} words, "
              f"{len(found)} collisions or near-duplicates")
        sys.exit(1 if found else 0)
    torch.set_num_threads(a.threads)
    fresh, waves, toks = fresh_set(a.set, a.units)
    dit, dck = load(a.detok_run, DiT, DiTConfig)
    voc, vck = load(a.vocoder_run, Vocoder, VocoderConfig)
    step, vocode = torch_callables(dit, voc)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    res = {"set": a.set, "detok_run": a.detok_run, "detok_checkpoint_step": dck["step"], "vocoder_run": a.vocoder_run,
           "vocoder_checkpoint_step": vck["step"], "sentences": fresh, "wer": {}, "hypotheses": {}}
    with tempfile.TemporaryDirectory() as td:
        res["wer"]["flite_slt"] = wer(fresh, [recognize(w.astype(np.float32) / 32768, td) for w in waves])
        for n in [int(s) for s in a.steps.split(",")]:
            sch = dict(SCHEDULE, euler_steps=n)
            hyp = []
            for t in toks:
                mels = detokenize(step, t.numpy().astype(np.int64), dims, 0, sch)
                hyp.append(recognize(vocode_chunks(vocode, mels, sch), td))
            res["wer"][f"resynthesis_N{n}"] = wer(fresh, hyp)
            res["hypotheses"][f"N{n}"] = hyp
            print(f"N {n}: WER {res['wer'][f'resynthesis_N{n}']:.1f} %", flush=True)
    print(f"flite slt: WER {res['wer']['flite_slt']:.1f} %")
    os.makedirs(os.path.join(WORK2, "eval"), exist_ok=True)
    name = "fresh_sentences.json" if a.set == "a" else f"fresh_sentences_{a.set}_{a.detok_run}_{a.vocoder_run}.json"
    save_json(os.path.join(WORK2, "eval", name), res)


if __name__ == "__main__":
    main()
