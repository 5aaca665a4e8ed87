"""The data model of one simulated portal: items, columns, pages, faults and truth refs.

A :class:`SiteModel` is built in three passes (see ``simweb.generate.build_site``):
base content and features add items, columns and page fragments; the template family
assigns URL paths; then the page table is built and the features' truth references
are resolved to URLs. Page HTML is rendered lazily by the family, on first request.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simweb.templates import Family

Fragment = str | Callable[["SiteModel"], str]


@dataclass
class Item:
    """One content page: a policy document ("doc"), an interpretation ("interp") or news."""

    key: str
    kind: str
    column: str
    title: str
    date: date
    num: int
    issuer: str = ""
    docno: str = ""
    written: date | None = None
    validity: str = ""  # "" → the template prints no 有效性 row
    index_no: str = ""
    source: str = ""
    paras: list[str] = field(default_factory=list)
    related: list[tuple[str, str]] = field(default_factory=list)  # (heading, item key)
    extra_html: str = ""
    topic: str = ""
    path: str = ""
    attachment: Attachment | None = None  # faults="full": the text lives only in this file
    form: str = ""  # "" → the metadata-table page; else a body-text form (simweb.features_documents)
    form_opts: dict[str, Any] = field(default_factory=dict)  # that form's rendered body and options


@dataclass
class Attachment:
    """A file a document page links to (faults="full"): PDF or DOCX, maybe truncated or huge."""

    fmt: str  # pdf | docx
    showname: str  # the file name the link shows ("附件：1.xxx.pdf")
    href: str  # the link as written in the page (may be relative or a download gateway)
    path: str  # the final path the file is served at
    kind: str = "evidence"  # evidence | corrupt | huge


@dataclass
class Raw:
    """A non-layout resource a path serves (faults="full").

    kind: ``file`` (an attachment, built on first request by ``make``), ``json``,
    ``found`` (a 302 to ``location``), ``huge`` (``size`` bytes streamed, Content-Length
    set) or ``stall`` (headers and part of the body, then silence for ``stall`` seconds).
    """

    kind: str
    content_type: str = "application/octet-stream"
    make: Callable[[], bytes] | None = None
    size: int = 0
    location: str = ""
    stall: float = 0.0


@dataclass
class Column:
    key: str
    name: str
    items: list[str] = field(default_factory=list)
    page_size: int = 15
    script_list: bool = False  # list printed inside <script type="text/xml"> (Hanweb datastore)
    cid: int = 0
    path: str = ""  # first list page
    pages: list[str] = field(default_factory=list)


@dataclass
class Page:
    """What a path serves: kind is home | list | item | static."""

    kind: str
    ref: str = ""
    page_no: int = 0
    title: str = ""
    body: Fragment = ""
    column: str = ""


@dataclass
class LeafTruth:
    present: bool = False
    refs: list[str] = field(default_factory=list)  # item:<key> | page:<path> | home | sitewide
    traps: list[tuple[str, str]] = field(default_factory=list)  # (trap kind, ref)
    how: list[str] = field(default_factory=list)  # the variants used, for people reading the truth
    reach: list[str] = field(default_factory=list)  # what finding it needs: js_only | onclick | attachment | challenge
    attachments: list[str] = field(default_factory=list)  # final paths of attachment-only evidence
    share: float | None = None  # graded leaves: share of the leaf's points a correct scorer gives (None: 1.0)
    messages: list[tuple[date, date | None]] | None = None  # dated (submitted, replied) pairs, judged again per year
    layout: str = ""  # how those messages are published


@dataclass
class SiteModel:
    site_id: str
    name: str
    level: str
    province: str
    host: str
    scheme: str
    seed: int
    rng: random.Random
    family: Family | None = None
    encoding: str = "utf-8"
    ident: dict[str, Any] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)
    columns: dict[str, Column] = field(default_factory=dict)
    nav: list[tuple[str, str]] = field(default_factory=list)  # (label, href or col:<key>)
    header_links: list[Fragment] = field(default_factory=list)
    home_blocks: list[tuple[str, Fragment]] = field(default_factory=list)
    footer_lines: list[Fragment] = field(default_factory=list)
    floats: list[Fragment] = field(default_factory=list)
    static_pages: dict[str, Page] = field(default_factory=dict)  # key → page (path set by family)
    pages: dict[str, Page] = field(default_factory=dict)  # path → page
    aliases: dict[str, str] = field(default_factory=dict)  # duplicate path → canonical path
    redirects: dict[str, str] = field(default_factory=dict)  # old path → new path (301)
    slow: dict[str, float] = field(default_factory=dict)
    flaky: set[str] = field(default_factory=set)
    leaves: dict[str, LeafTruth] = field(default_factory=dict)
    external_hosts: dict[str, str] = field(default_factory=dict)  # host → page title
    next_num: int = 0
    # faults="full" only (see simweb.faults); empty / "" under faults="basic"
    faults: list[str] = field(default_factory=list)
    fault_details: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Raw] = field(default_factory=dict)  # path → non-layout resource
    js_nav: str = ""  # "" | document_write | xhr_json | array_timeout
    challenge: str = ""  # "" | "412" | "521"
    charset_fault: str = ""  # "" | header_utf8 | undeclared | malformed_meta
    access: str = ""  # "" or an access fault kind (simweb.access): WAF, CAPTCHA, login wall, rate limit, down
    tls_cert: str = ""  # "" | expired | self_signed | wrong_host (the certificate the https host presents)
    year: int = 2023  # the year of the web (simweb.years: an earlier year is the same portal, dated earlier)

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def short(self) -> str:
        return self.ident["short"]

    def new_num(self) -> int:
        self.next_num += self.rng.randrange(3, 40)
        return self.next_num

    def add_item(self, item: Item) -> Item:
        self.items[item.key] = item
        self.columns[item.column].items.append(item.key)
        return item

    def columns_by_name(self) -> dict[str, int]:
        return {c.name: c.cid for c in self.columns.values()}

    def href(self, ref: str) -> str:
        """A site-relative href for ``col:<key>``, ``item:<key>``, ``page:<key>`` or a URL."""
        if ref.startswith("col:"):
            return self.columns[ref[4:]].path
        if ref.startswith("item:"):
            return self.items[ref[5:]].path
        if ref.startswith("page:"):
            return self.static_pages[ref[5:]].ref
        return ref
