"""Parsing Hugging Face Daily Papers: the JSON API and two third-party RSS feeds of it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest.feeds import PaperIn, parse_feed, parse_feed_kind


def papers_in(feeds_dir: Path, name: str) -> dict[str, PaperIn]:
    return {paper.key: paper for paper in parse_feed((feeds_dir / name).read_bytes(), name)}


# --- the JSON API --------------------------------------------------------------------------------


def test_hf_json_papers_have_arxiv_ids_upvotes_and_links(feeds_dir) -> None:
    name = "hf-daily-papers-2026-07-31.json"
    kind, papers = parse_feed_kind((feeds_dir / name).read_bytes(), name)
    assert kind == "hf-json" and len(papers) == 30
    first = papers[0]
    assert first.key == first.arxiv_id == "2607.23193"
    assert first.version is None and first.categories == ()
    assert first.title == (
        "OmniScope: Modality-Decoupled Token Compression for Omnimodal Large Language Models"
    )
    assert first.upvotes == 3
    assert first.code_url == "https://github.com/MAC-AutoML/OmniScope"
    assert first.project_url is None
    assert first.url == "https://arxiv.org/abs/2607.23193"
    assert first.pdf_url == "https://arxiv.org/pdf/2607.23193"
    assert first.authors[:2] == ("Jinsen Su", "Yongdong Luo")
    assert first.published_at == datetime(2026, 7, 28, tzinfo=UTC)


def test_hf_json_optional_keys_and_zero_upvotes(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "hf-daily-papers-2026-07-31.json")
    opsd = papers["2607.28582"]
    assert opsd.title.startswith("β-OPSD: Deriving with Policy Optimization")
    assert (opsd.upvotes, opsd.code_url) == (19, None)
    assert opsd.project_url == "https://umd-huang-lab.github.io/beta-opsd/"
    assert papers["2607.27958"].title.startswith("Σ-Mem: ")
    assert papers["2607.16922"].upvotes == 0
    assert "Alfonso Ureña López" in papers["2607.28319"].authors


def test_hf_json_summary_paragraph_breaks_are_kept_and_the_rest_unwrapped(feeds_dir) -> None:
    abstract = papers_in(feeds_dir, "hf-daily-papers-2026-07-31.json")["2607.28227"].abstract
    first, second = abstract.split("\n\n")[:2]
    assert first.endswith("stateful workflows across mobile and computer.")
    assert second.startswith("Across a broad suite of evaluations, Qwen-UI-Agent")
    assert "\n  " not in abstract


def test_hf_json_with_ai_summary_fields(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "hf-daily-papers-2026-09-04-excerpt-with-ai-summary.json")
    assert list(papers) == ["2609.04199", "2609.03430", "2609.01507"]
    compile_ = papers["2609.04199"]
    assert compile_.upvotes == 314
    assert compile_.code_url == "https://github.com/programasweights/compile-by-training"
    assert compile_.authors == ("Yuntian Deng", "Pengyu Nie", "Stuart Shieber")


# --- huangboming's RSS feed: entity-escaped HTML to scrape -------------------------------------


def test_huangboming_rss_scrapes_authors_upvotes_and_summary_from_html(feeds_dir) -> None:
    name = "hf-papers-rss-huangboming-feed-2026-08-08.xml"
    kind, papers = parse_feed_kind((feeds_dir / name).read_bytes(), name)
    assert kind == "rss" and len(papers) == 30
    first = papers[0]
    assert first.key == "2607.28609"
    assert first.title.startswith("OSReward: Instituting Standardized Evaluation")
    assert first.upvotes == 52
    assert first.authors[:3] == ("Qiushi Sun", "Kanzhi Cheng", "Yian Wang")
    assert first.authors[-1] == "Lingpeng Kong" and len(first.authors) == 23
    assert first.abstract.startswith("Computer-using agents (CUAs) are advancing rapidly")
    assert first.abstract.endswith("https://os-copilot.github.io/OSReward-Home/.")
    assert "Authors:" not in first.abstract and "<" not in first.abstract
    assert first.published_at == datetime(2026, 7, 30, tzinfo=UTC)


def test_huangboming_rss_zero_upvotes_and_other_dates(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "hf-papers-rss-huangboming-feed-2026-08-08.xml")
    assert papers["2608.01492"].upvotes == 0
    assert papers["2608.01481"].upvotes == 46
    assert papers["2608.01481"].authors[0] == "Ilia Semenkov"
    assert papers["2608.03451"].published_at == datetime(2026, 8, 4, tzinfo=UTC)


# --- Takara TLDR: no arXiv link, CDATA with bare & and < -----------------------------------------


def test_takara_links_resolve_to_arxiv_ids(feeds_dir) -> None:
    name = "hf-papers-rss-takara-tldr-2026-04-30.xml"
    papers = parse_feed((feeds_dir / name).read_bytes(), name)
    assert len(papers) == 50
    assert all(p.arxiv_id == p.key for p in papers)
    admm = next(p for p in papers if p.key == "2604.26932")
    assert admm.title == "Learning Over-Relaxation Policies for ADMM with Convergence Guarantees"
    assert admm.url == "https://arxiv.org/abs/2604.26932"
    assert admm.published_at == datetime(2026, 4, 29, 17, 45, 52, tzinfo=UTC)
    assert admm.authors == () and admm.upvotes is None


def test_takara_cdata_keeps_bare_ampersands_less_than_signs_and_latex(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "hf-papers-rss-takara-tldr-2026-04-30.xml")
    assert "Operating and maintaining (O&M) large-scale" in papers["2604.26805"].abstract
    assert "\\emph{unified operational paradigm}" in papers["2604.26805"].abstract
    assert "P(KAN_f) <= max(C*,1)^L_f with L_f <= c_max * N" in papers["2604.26444"].abstract
    calibrated = papers["2604.26269"].abstract
    assert "$I(X;Y) = H(X) - H(X|Y)$" in calibrated
    assert calibrated.count("\n\n") == 2  # its `\n  ` paragraph breaks
