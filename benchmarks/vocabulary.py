"""Realistic ML/CS vocabulary and a generator of papers and keyword profiles from it.

Shared by the benchmarks: `make_papers(n, rng)` returns dicts shaped like stored papers, and
`make_profiles(n, rng)` returns keyword-profile texts a researcher could plausibly write.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

TOPICS = """
reinforcement learning, deep reinforcement learning, offline reinforcement learning,
inverse reinforcement learning, imitation learning, behavior cloning, policy gradient,
actor-critic, model-based reinforcement learning, multi-agent reinforcement learning,
reward modeling, reward shaping, exploration, curiosity-driven exploration, world models,
large language models, language models, instruction tuning, in-context learning,
chain-of-thought, chain-of-thought prompting, prompt engineering, retrieval-augmented generation,
RLHF, direct preference optimization, preference learning, alignment, red teaming, jailbreak,
hallucination, mixture of experts, sparse attention, linear attention, state space models,
transformer, vision transformer, attention mechanism, self-attention, positional encoding,
tokenization, tokenizer, pre-training, pretraining, fine-tuning, parameter-efficient fine-tuning,
LoRA, quantization, knowledge distillation, pruning, model compression, speculative decoding,
KV cache, long context, context window, scaling laws, emergent abilities, benchmark,
evaluation, LLM agents, tool use, code generation, program synthesis, theorem proving,
mathematical reasoning, reasoning, planning, multimodal, vision-language models,
visual question answering, image captioning, text-to-image, text-to-video, video generation,
diffusion models, diffusion policy, score matching, flow matching, consistency models,
latent diffusion, denoising, generative adversarial networks, GAN, variational autoencoder,
VAE, normalizing flows, autoregressive models, masked autoencoders, contrastive learning,
self-supervised learning, representation learning, metric learning, few-shot learning,
zero-shot learning, meta-learning, continual learning, catastrophic forgetting, transfer learning,
domain adaptation, domain generalization, out-of-distribution detection, uncertainty estimation,
Bayesian deep learning, Gaussian processes, variational inference, Monte Carlo, MCMC,
causal inference, causal discovery, counterfactual explanations, interpretability,
mechanistic interpretability, sparse autoencoders, feature attribution, saliency maps,
explainable AI, fairness, privacy, differential privacy, federated learning, adversarial examples,
adversarial robustness, certified robustness, backdoor attacks, data poisoning,
membership inference,
watermarking, object detection, semantic segmentation, instance segmentation, panoptic segmentation,
image classification, image generation, image editing, super-resolution, depth estimation,
monocular depth estimation, optical flow, pose estimation, human pose estimation, 3D reconstruction,
neural radiance fields, NeRF, Gaussian splatting, 3D Gaussian splatting, point clouds,
scene understanding, SLAM, visual odometry, visual localization, place recognition,
autonomous driving, motion planning, trajectory prediction, trajectory optimization,
robot learning, robot manipulation, dexterous manipulation, grasping, legged locomotion,
quadruped robots, humanoid robots, sim-to-real transfer, sim2real, teleoperation,
embodied AI, vision-language-action models, navigation, visual navigation, path planning,
model predictive control, optimal control, safe reinforcement learning, multi-robot systems,
swarm robotics, human-robot interaction, tactile sensing, soft robotics, drones, UAV,
graph neural networks, GNN, message passing, knowledge graphs, link prediction, node classification,
recommender systems, collaborative filtering, information retrieval, dense retrieval, reranking,
question answering, machine translation, summarization, named entity recognition,
sentiment analysis,
speech recognition, text-to-speech, speech synthesis, audio generation, music generation,
time series forecasting, anomaly detection, tabular data, AutoML, neural architecture search,
hyperparameter optimization, optimization, stochastic gradient descent, Adam optimizer,
convergence analysis, generalization bounds, learning theory, PAC-Bayes, kernel methods,
neural tangent kernel, implicit regularization, overparameterization, double descent, grokking,
loss landscape, batch normalization, layer normalization, residual networks,
convolutional neural networks,
CNN, recurrent neural networks, LSTM, spiking neural networks, neuromorphic computing,
protein structure prediction, protein design, drug discovery, molecular generation, single-cell,
medical imaging, medical image segmentation, radiology reports, electronic health records,
climate modeling, weather forecasting, physics-informed neural networks, PINN, neural operators,
partial differential equations, scientific machine learning, symbolic regression,
data augmentation, synthetic data, data curation, dataset distillation, active learning,
semi-supervised learning, weak supervision, label noise, long-tailed recognition, class imbalance,
efficient inference, edge devices, on-device learning, hardware acceleration, GPU kernels,
distributed training, pipeline parallelism, memory efficiency, energy efficiency, green AI
"""

PREFIXES = [
    "robot*",
    "diffus*",
    "segment*",
    "transform*",
    "quantiz*",
    "distill*",
    "multimodal*",
    "reinforc*",
    "locomot*",
    "manipulat*",
    "halluc*",
    "interpret*",
    "retriev*",
    "token*",
    "LLM*",
    "agent*",
    "graph*",
    "protein*",
    "molecul*",
    "spik*",
    "neuromorph*",
    "federat*",
]

SURNAMES = [
    "Levine",
    "Finn",
    "Abbeel",
    "Bengio",
    "Hinton",
    "LeCun",
    "Sutskever",
    "Karpathy",
    "Ng",
    "Li",
    "Fei-Fei",
    "Malik",
    "Darrell",
    "Efros",
    "Torralba",
    "Freeman",
    "Tenenbaum",
    "Goodfellow",
    "Kingma",
    "Welling",
    "Schmidhuber",
    "Hochreiter",
    "Silver",
    "Hassabis",
    "Sutton",
    "Barto",
    "Russell",
    "Jordan",
    "Koller",
    "Manning",
    "Jurafsky",
    "Liang",
    "Hashimoto",
    "Finn",
    "Sadigh",
    "Bohg",
    "Song",
    "Zhu",
    "Wang",
    "Zhang",
    "Chen",
    "Liu",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Hu",
    "Guo",
    "He",
    "Lin",
    "Luo",
    "Gao",
    "Tang",
    "Kumar",
    "Gupta",
    "Singh",
    "Sharma",
    "Kim",
    "Park",
    "Lee",
    "Choi",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Dubois",
    "Martin",
    "Bernard",
    "Rossi",
    "Russo",
    "Garcia",
    "Rodriguez",
    "Martinez",
    "Lopez",
    "Gonzalez",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Davis",
    "Miller",
    "Wilson",
    "Moore",
    "Taylor",
    "Anderson",
    "Thomas",
    "Jackson",
    "White",
    "Harris",
    "Thompson",
    "Robinson",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Allen",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
]

GIVEN = [
    "Sergey",
    "Chelsea",
    "Pieter",
    "Yoshua",
    "Geoffrey",
    "Yann",
    "Ilya",
    "Andrej",
    "Andrew",
    "Jitendra",
    "Trevor",
    "Alexei",
    "Antonio",
    "William",
    "Joshua",
    "Ian",
    "Diederik",
    "Max",
    "Jürgen",
    "David",
    "Richard",
    "Stuart",
    "Michael",
    "Daphne",
    "Christopher",
    "Percy",
    "Tatsunori",
    "Dorsa",
    "Jeannette",
    "Shuran",
    "Yuke",
    "Wei",
    "Jing",
    "Yu",
    "Xin",
    "Hao",
    "Lei",
    "Yan",
    "Ming",
    "Tao",
    "Priya",
    "Rahul",
    "Anil",
    "Min",
    "Ji",
    "Hiro",
    "Anna",
    "Lukas",
    "Sophie",
    "Marco",
    "Laura",
    "Carlos",
    "Maria",
    "Emily",
    "James",
    "Sarah",
    "Daniel",
    "Olivia",
]

CATEGORIES = [
    "cs.LG",
    "cs.CV",
    "cs.CL",
    "cs.AI",
    "cs.RO",
    "cs.NE",
    "cs.IR",
    "cs.CR",
    "cs.SD",
    "cs.MA",
    "cs.SY",
    "cs.HC",
    "stat.ML",
    "eess.IV",
    "eess.AS",
    "eess.SY",
    "math.OC",
    "q-bio.BM",
    "q-bio.QM",
    "physics.comp-ph",
    "quant-ph",
]

COMMON = [
    "the",
    "a",
    "an",
    "of",
    "and",
    "to",
    "in",
    "for",
    "with",
    "on",
    "by",
    "from",
    "that",
    "this",
    "we",
    "our",
    "is",
    "are",
    "be",
    "can",
    "which",
    "as",
    "its",
    "their",
    "these",
    "it",
    "at",
    "or",
    "using",
    "based",
    "via",
    "into",
    "while",
    "across",
    "over",
    "both",
    "such",
    "more",
    "than",
    "also",
    "not",
    "between",
    "under",
    "through",
    "without",
    "new",
    "novel",
    "simple",
    "efficient",
    "effective",
    "strong",
    "robust",
    "general",
    "scalable",
    "approach",
    "method",
    "framework",
    "model",
    "models",
    "system",
    "results",
    "performance",
    "task",
    "tasks",
    "data",
    "show",
    "demonstrate",
    "propose",
    "present",
    "introduce",
    "study",
    "analyze",
    "evaluate",
    "achieve",
    "improve",
    "outperform",
    "existing",
    "prior",
    "previous",
    "state-of-the-art",
    "baselines",
    "experiments",
    "extensive",
    "several",
    "various",
    "significant",
    "substantial",
    "however",
    "moreover",
    "furthermore",
    "finally",
    "first",
    "second",
    "key",
    "main",
    "challenge",
    "problem",
    "setting",
    "training",
    "inference",
    "large",
    "small",
    "high",
    "low",
    "real-world",
    "datasets",
    "accuracy",
    "quality",
    "cost",
    "time",
    "memory",
    "number",
    "different",
    "multiple",
    "single",
    "each",
    "learning",
    "network",
    "networks",
    "neural",
    "deep",
    "representation",
    "representations",
    "features",
    "structure",
    "information",
]

MODIFIERS = [
    "efficient",
    "robust",
    "federated",
    "multimodal",
    "hierarchical",
    "sparse",
    "online",
    "offline",
    "causal",
    "graph-based",
    "contrastive",
    "probabilistic",
    "decentralized",
    "interpretable",
    "scalable",
    "adaptive",
    "few-shot",
    "zero-shot",
    "self-supervised",
    "uncertainty-aware",
    "privacy-preserving",
    "real-time",
    "open-vocabulary",
    "long-horizon",
    "multi-task",
    "cross-lingual",
    "physics-informed",
    "data-efficient",
    "safe",
    "generalizable",
]

OPENERS = [
    "Towards",
    "Learning",
    "Scaling",
    "Rethinking",
    "Understanding",
    "Efficient",
    "Robust",
    "On the",
    "Beyond",
    "Improving",
    "A Study of",
    "Revisiting",
    "Unifying",
    "Benchmarking",
]

TOPIC_LIST = [t.strip() for t in TOPICS.replace("\n", " ").split(",") if t.strip()]


def _zipf_choice(rng: random.Random, items: list[str], s: float = 1.1) -> str:
    """Pick an item with a heavy head, as topics are in real papers."""
    weights = _weights(len(items), s)
    return rng.choices(items, weights=weights, k=1)[0]


_WEIGHT_CACHE: dict[tuple[int, float], list[float]] = {}


def _weights(n: int, s: float) -> list[float]:
    """Zipf weights 1/rank^s, cached."""
    key = (n, s)
    if key not in _WEIGHT_CACHE:
        _WEIGHT_CACHE[key] = [1 / (rank + 1) ** s for rank in range(n)]
    return _WEIGHT_CACHE[key]


def _shuffled_topics(seed: int) -> list[str]:
    """Topics in a fixed pseudo-random popularity order."""
    topics = TOPIC_LIST[:]
    random.Random(seed).shuffle(topics)
    return topics


def _topic(rng: random.Random, topics: list[str], s: float, narrow: float = 0.6) -> str:
    """A topic, often narrowed by a modifier ("robust object detection")."""
    topic = _zipf_choice(rng, topics, s)
    if rng.random() < narrow:
        return f"{rng.choice(MODIFIERS)} {topic}"
    return topic


def make_papers(n: int, rng: random.Random, now: datetime | None = None) -> list[dict]:
    """`n` papers with realistic titles, 150-250-word abstracts, authors and categories."""
    now = now or datetime(2025, 1, 15, tzinfo=UTC)
    topics = _shuffled_topics(1)
    papers = []
    for _ in range(n):
        own = [_topic(rng, topics, 0.5) for _ in range(rng.randint(3, 5))]
        title = f"{rng.choice(OPENERS)} {own[0].title()} for {own[1]}"
        words: list[str] = []
        target = rng.randint(150, 250)
        while len(words) < target:
            words.extend(rng.choices(COMMON, k=rng.randint(4, 12)))
            words.extend(rng.choice(own).split())
        abstract = " ".join(words[:target]).capitalize() + "."
        papers.append(
            {
                "title": title,
                "abstract": abstract,
                "authors": [
                    f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}" for _ in range(rng.randint(1, 8))
                ],
                "categories": rng.sample(CATEGORIES, rng.randint(1, 3)),
                "upvotes": rng.choice([None, rng.randint(0, 200)]),
                "published_at": now - timedelta(hours=rng.randint(0, 72)),
            }
        )
    return papers


def make_profiles(n: int, rng: random.Random, terms: int = 10) -> list[str]:
    """`n` profile texts of about `terms` terms: phrases, prefixes, fields, AND and exclusions."""
    topics = _shuffled_topics(1)
    profiles = []
    for _ in range(n):
        lines = []
        for _ in range(max(1, terms + rng.randint(-3, 3))):
            roll = rng.random()
            topic = _topic(rng, topics, 0.3, narrow=0.95)  # interests are specific
            if roll < 0.70:
                lines.append(topic)
            elif roll < 0.71:
                lines.append(rng.choice(PREFIXES))
            elif roll < 0.79:
                lines.append(f"title:{topic}")
            elif roll < 0.84:
                lines.append(f"author:{rng.choice(GIVEN)} {rng.choice(SURNAMES)}")
            elif roll < 0.85:
                lines.append(f"category:{rng.choice(CATEGORIES)}")
            elif roll < 0.92:
                lines.append(f"{topic} AND {_zipf_choice(rng, topics, 0.3)}")
            else:
                lines.append(
                    f"-{rng.choice(['survey', 'title:benchmark', 'category:cs.CR', topic])}"
                )
        profiles.append("\n".join(lines))
    return profiles


# Broad terms, as a new reader types them: each matches some 1-10% of a day's papers.
BROAD_TERMS = [
    "language model*", "diffusion", "reinforcement learning", "benchmark", "transformer*",
    "attention", "reasoning", "robot*", "agent*", "vision", "graph*", "segmentation", "retrieval",
    "alignment", "multimodal", "LLM*", "fine-tuning", "pretraining", "contrastive", "detection",
    "evaluation", "optimization", "federated", "privacy", "3D", "video", "speech", "code",
    "planning", "causal", "adversarial", "uncertainty", "distillation", "quantization",
    "self-supervised", "neural network*", "deep learning",
]  # fmt: skip
# Terms that match most papers (a reader who wants nearly everything): the workload's tail.
VERY_BROAD_TERMS = ["generat*", "robust*", "efficient", "training", "dataset*", "inference"]


def make_broad_profiles(n: int, rng: random.Random) -> list[str]:
    """`n` profiles of 3-12 common ML terms (fewer more often): on a 2,000-paper day of
    `make_papers` the median matches about 24%, one in sixteen more than half."""
    profiles = []
    for _ in range(n):
        terms = rng.sample(BROAD_TERMS, min(rng.randint(3, 12), rng.randint(3, 9)))
        if rng.random() < 0.08:
            terms.append(rng.choice(VERY_BROAD_TERMS))
        profiles.append("\n".join(terms))
    return profiles
