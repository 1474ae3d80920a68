"""Parsing arXiv's own feeds: RSS 2.0, the old RDF feed, the API (legacy and current), Atom feed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.feeds import FeedError, PaperIn, parse_feed, parse_feed_kind


def papers_in(feeds_dir: Path, name: str) -> dict[str, PaperIn]:
    return {paper.key: paper for paper in parse_feed((feeds_dir / name).read_bytes(), name)}


# --- RSS 2.0 -----------------------------------------------------------------------------------


def test_arxiv_rss_items_carry_id_version_announce_type_and_categories(feeds_dir) -> None:
    name = "arxiv-rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-excerpt.xml"
    kind, papers = parse_feed_kind((feeds_dir / name).read_bytes(), name)
    assert kind == "arxiv-rss"
    assert [(p.key, p.version, p.announce_type) for p in papers] == [
        ("2609.26811", 1, "new"),
        ("2609.26820", 1, "new"),
        ("2205.06398", 2, "cross"),
        ("2009.13987", 3, "replace"),
    ]
    cross = papers[2]
    assert cross.title == "Outlier Detection for Multi-Network Data"
    assert cross.categories == ("stat.ME", "stat.AP", "stat.ML")
    assert cross.authors == ("Pritam Dey", "Zhengwu Zhang", "David B. Dunson")
    assert cross.url == "https://arxiv.org/abs/2205.06398"
    assert cross.pdf_url == "https://arxiv.org/pdf/2205.06398"
    assert cross.published_at == datetime(2026, 9, 24, 4, 0, tzinfo=UTC)  # midnight US-Eastern


def test_arxiv_rss_abstract_loses_the_announce_prefix(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-excerpt.xml")
    abstract = papers["2609.26811"].abstract
    assert abstract.startswith("Local learning trains each layer with its own auxiliary loss")
    assert "Announce Type" not in abstract and "\n" not in abstract


def test_arxiv_rss_announce_prefix_flattened_onto_one_line_is_also_removed(feeds_dir) -> None:
    name = "arxiv-rss-cs.CL-2026-04-27-excerpt.xml"
    content = (feeds_dir / name).read_bytes().replace(b"new \nAbstract:", b"new Abstract:")
    assert content.count(b"new Abstract:") == 3
    papers = parse_feed(content, name)
    assert [p.announce_type for p in papers] == ["new", "new", "new"]
    assert papers[0].abstract.startswith("Social media platforms have become primary channels")


def test_arxiv_rss_double_space_in_creator_gives_a_clean_mononymous_author(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-rss-cs.CL-2026-04-27-excerpt.xml")
    assert papers["2604.22002"].authors == (
        "Anamta Khan",
        "Ratna Kandala",
        "Deepti",
        "Sheza Munir",
        "Joyojeet Pal",
    )


def test_arxiv_rss_keeps_latex_currency_and_decoded_ampersands_as_plain_text(feeds_dir) -> None:
    lg = papers_in(feeds_dir, "arxiv-rss-cs.LG-2026-04-27-excerpt.xml")
    ai = papers_in(feeds_dir, "arxiv-rss-cs.AI-2026-04-27-excerpt.xml")
    assert "costs over $800 per sample" in lg["2604.21953"].abstract
    assert "visual resolution & stride" in lg["2604.21952"].abstract
    assert "\\textbf{adaptability}" in ai["2604.21936"].abstract


def test_weekend_rss_without_items_is_no_papers_not_an_error(feeds_dir) -> None:
    name = "arxiv-rss-cs.CL-2026-08-01-saturday-empty.xml"
    assert parse_feed_kind((feeds_dir / name).read_bytes(), name) == ("arxiv-rss", [])


# --- RDF (before 2024) -------------------------------------------------------------------------


def test_rdf_titles_lose_the_arxiv_suffix_and_give_version_and_primary_category(
    feeds_dir,
) -> None:
    name = "arxiv-rss1-rdf-cs-2018-08-30.xml"
    kind, papers = parse_feed_kind((feeds_dir / name).read_bytes(), name)
    assert kind == "arxiv-rdf"
    assert len(papers) == 185
    first = papers[0]
    assert first.key == "1808.09955" and first.version == 1
    assert first.title == (
        "QuasarNET: Human-level spectral classification and redshifting with Deep Neural Networks"
    )
    assert first.categories == ("astro-ph.IM",)
    assert first.announce_type == "cross"  # a foreign primary category in the cs feed
    assert first.authors == ("Nicolas Busca", "Christophe Balland")
    assert not any("arXiv:" in p.title or "UPDATED" in p.title for p in papers)


def test_rdf_updated_items_are_replacements(feeds_dir) -> None:
    name = "arxiv-rss1-rdf-cs-2018-08-30.xml"
    papers = parse_feed((feeds_dir / name).read_bytes(), name)
    counts = Counter(p.announce_type for p in papers)
    assert counts == {"new": 103, "cross": 8, "replace": 63, "replace-cross": 11}
    replaced = next(p for p in papers if p.key == "1301.1107")
    assert (replaced.version, replaced.announce_type) == (6, "replace")
    assert replaced.title == "Spectral Condition-Number Estimation of Large Sparse Matrices"


def test_rdf_description_html_is_unescaped_unwrapped_and_keeps_latex(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-rss1-rdf-cs-2018-08-30.xml")
    abstract = papers["1808.09955"].abstract
    assert abstract.startswith("We introduce QuasarNET, a deep convolutional neural network that")
    assert "defines a sample $99.51\\pm0.03$\\% pure" in abstract
    assert "<p>" not in abstract and "&lt;" not in abstract and "\n" not in abstract
    assert "  " not in abstract
    assert papers["1808.09964"].authors == ("Brijnesh J. Jain",)


# --- the API -----------------------------------------------------------------------------------


def test_legacy_api_unwraps_titles_and_summaries_and_knows_old_style_ids(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-api-atom-legacy-2016-10-09-search-au_del_maestro.xml")
    old = papers["cond-mat/0412498"]
    assert old.version == 1 and old.arxiv_id == "cond-mat/0412498"
    assert old.url == "https://arxiv.org/abs/cond-mat/0412498"
    assert old.categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    assert old.authors == ("Adrian Del Maestro", "Subir Sachdev")
    wrapped = papers["cond-mat/0603029"]
    assert wrapped.title == (
        "From stripe to checkerboard order on the square lattice in the presence of quenched "
        "disorder"
    )
    summary = papers["1201.4869"].abstract
    assert summary.startswith("As helium-4 is cooled below 2.17 K it undergoes a phase transition")
    assert "\n" not in summary and "  " not in summary


def test_current_api_gives_versions_dates_primary_category_and_utf8_names(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-api-atom-2026-04-12-search-testing-max100.xml")
    assert len(papers) == 100
    anarchy = papers["hep-ph/0301050"]
    assert anarchy.title == "Statistical Test of Anarchy"
    assert anarchy.version == 2
    assert anarchy.published_at == datetime(2003, 1, 8, 20, 15, 43, tzinfo=UTC)
    assert anarchy.updated_at == datetime(2003, 6, 30, 3, 20, 20, tzinfo=UTC)
    assert papers["2409.05654"].version == 9
    assert papers["2405.13786"].authors[0] == "Aurora Ramírez"
    assert papers["2306.03845"].title.startswith("$ω$Test: ")
    assert papers["2202.12139"].categories == ("cs.SE", "cs.LG")


def test_current_api_paragraph_breaks_become_blank_lines(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-api-atom-2026-04-12-search-testing-max100.xml")
    with_paragraphs = [p for p in papers.values() if "\n\n" in p.abstract]
    assert len(with_paragraphs) == 11
    assert all(not p.abstract.startswith(" ") for p in papers.values())
    assert papers["1812.11470"].abstract.startswith("Context. Multiple automated techniques")


def test_api_single_old_style_id(feeds_dir) -> None:
    [paper] = parse_feed(
        (feeds_dir / "arxiv-api-atom-2026-05-11-id_list-astro-ph-0601001.xml").read_bytes(), "x"
    )
    assert paper.key == "astro-ph/0601001" and paper.version == 1
    assert paper.categories == ("astro-ph",)
    assert paper.authors == ("Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski")
    assert "V_max<17.5" in paper.abstract and "Gould & Morgan (2003)" in paper.abstract


def test_api_zero_results_is_no_papers(feeds_dir) -> None:
    name = "arxiv-api-atom-2026-04-12-id_list-no-results.xml"
    assert parse_feed_kind((feeds_dir / name).read_bytes(), name) == ("arxiv-api", [])


def test_api_mixed_id_list_returns_the_valid_paper_only(feeds_dir) -> None:
    papers = papers_in(feeds_dir, "arxiv-api-atom-2026-04-12-id_list-one-invalid-one-valid.xml")
    assert list(papers) == ["1707.08567"]


def test_api_error_entry_is_an_error_quoting_arxiv_not_a_paper(feeds_dir) -> None:
    content = (feeds_dir / "arxiv-api-atom-2026-04-12-id_list-abc-http400-error.xml").read_bytes()
    with pytest.raises(FeedError, match='"incorrect id format for abc"'):
        parse_feed(content, "x")


# --- arXiv's Atom daily feed -------------------------------------------------------------------


def test_atom_daily_feed_reads_like_the_rss_feed(feeds_dir) -> None:
    name = "arxiv-atomfeed-cs.LG-2026-09-25-excerpt-abstracts-trimmed.xml"
    kind, papers = parse_feed_kind((feeds_dir / name).read_bytes(), name)
    assert kind == "arxiv-atom"
    assert [(p.key, p.version, p.announce_type) for p in papers] == [
        ("2609.28553", 1, "new"),
        ("2402.10149", 3, "cross"),
        ("2401.08875", 3, "replace"),
    ]
    cross = papers[1]
    assert cross.categories == ("hep-ph", "cs.LG", "hep-ex")
    assert cross.authors[0] == "Callum Birch-Sykes"
    assert cross.abstract.startswith("In collider experiments, the kinematic reconstruction")
    assert cross.published_at == datetime(2026, 9, 25, 4, 0, tzinfo=UTC)
    assert cross.updated_at is None  # the feed's build time, not a revision
