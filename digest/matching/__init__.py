"""The keyword language (SPEC §5): parse profiles, match papers, rank and highlight (pure).

`text` prepares paper text, `language` parses profiles, `matcher` matches one profile against one
paper, and `index` matches many profiles against many papers through an inverted index.
"""

from digest.matching.index import ProfileIndex
from digest.matching.language import Atom, KeywordError, Part, Profile, Term, parse_profile
from digest.matching.matcher import Match, highlight, match, rank_key
from digest.matching.text import Document, make_document, normalise

__all__ = [
    "Atom",
    "Document",
    "KeywordError",
    "Match",
    "Part",
    "Profile",
    "ProfileIndex",
    "Term",
    "highlight",
    "make_document",
    "match",
    "normalise",
    "parse_profile",
    "rank_key",
]
