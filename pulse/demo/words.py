"""The words of the demo stream: meetup series and talk topics, venues, blog titles,
cancellation reasons, referrers. ``{c}`` in a series is the city's name."""

from __future__ import annotations

SERIES = [
    "{c} Python Night", "{c} Data & Analytics", "{c} JavaScript Meetup", "Rust {c}",
    "{c} DevOps Drinks", "Women in Tech {c}", "{c} Go Meetup", "{c} AI Engineers",
    "{c} Coffee & Code", "{c} Postgres Users Group",
]
TOPICS = [
    "async in practice", "type hints at scale", "DuckDB for analysts", "testing without mocks",
    "lightning talks", "Postgres internals", "observability on a budget",
    "WebAssembly beyond the browser", "data contracts in practice", "building CLIs people love",
    "accessibility first", "LLMs in production: lessons learned", "zero-downtime migrations",
    "packaging Python in 2026", "event sourcing without tears", "career panel: junior to staff",
    "hack night", "year in review", "property-based testing", "feature flags done right",
    "security for the rest of us", "the joy of SQL window functions", "on-call without burnout",
    "design systems that last", "open source maintainers' Q&A",
]
VENUES = {
    "sydney": ["Atlassian HQ, Level 6", "Fishburners, Ultimo", "The Commons, Darlinghurst",
               "UTS Building 11, Room 405"],
    "melbourne": ["Inspire9, Richmond", "REA Group, Cremorne", "The Bakehouse Studios",
                  "RMIT Building 80, Level 3"],
    "perth": ["Spacecubed, Perth CBD", "Flux, Level 1", "Curtin Uni Building 314"],
    "auckland": ["GridAKL, Wynyard Quarter", "Xero, Auckland Viaduct",
                 "AUT Sir Paul Reeves Building"],
    "singapore": ["Google Singapore, Pasir Panjang", "JTC LaunchPad @ one-north",
                  "NUS School of Computing, COM1"],
}
BLOG = [
    "Recap: {m}", "Meet the organisers of the {c} chapter", "Call for speakers: {mon} in {c}",
    "{n} things we learned about {t}", "Welcome to our newest members in {c}",
    "Venue spotlight: {v}", "Slides and recordings: {m}", "Why we run {s} every month",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
REASONS = ["Speaker unavailable", "Venue double-booked", "", "Public holiday clash",
           "Severe weather warning"]
REFERRERS = ["https://www.google.com/", "https://t.co/x2Kq9", "https://www.linkedin.com/",
             "https://news.ycombinator.com/", "", "https://community.example.org/newsletter",
             "https://duckduckgo.com/"]
# an event:created description far longer than any other
LONG_DESCRIPTION = (
    "Doors open at 6pm, talks start 6:30pm. Pizza & drinks thanks to our sponsors. "
    "We follow the community Code of Conduct. "
) * 30
