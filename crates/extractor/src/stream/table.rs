//! The table insertion modes of an HTML tree builder (WHATWG HTML
//! §13.2.6.4.9–15: "in table", "in caption", "in column group", "in table
//! body", "in row", "in cell"), reduced to what the streaming pass needs:
//! whether a tag met now would land in a cell or caption, where it stays in
//! document order, or in table structure, where a tree builder moves it
//! before the table (foster parenting).
//!
//! A pure state machine fed the table tags (`<table>`, `<caption>`,
//! `<colgroup>`, `<col>`, `<tbody>`, `<thead>`, `<tfoot>`, `<tr>`, `<td>`,
//! `<th>`) in source order, start and end tags alike, with no other tag
//! between them that could change the modes. Other tags do not: in a cell
//! or caption the "in body" rules apply, which never leave a table mode
//! except through `<table>` (a nested table, pushed here), `<select>` and
//! `<template>` (whose table tags the caller does not feed but gives up
//! on); in table structure a tree builder fosters other tags and stays in
//! its mode. End tags other than table tags never pop a table element:
//! the table is a scope boundary. The caller makes sure of the rest:
//! that it sees every table tag a tokenizer produces, and only those in
//! HTML content, outside `<template>`, `<select>` and foreign content.
//!
//! Per open table the state is one insertion mode; "in column group" acts
//! like "in table" for every tag that matters here (`<col>` keeps it, any
//! other tag pops the `<colgroup>` and is handled "in table"), so it is
//! folded into it. The open row group (`<tbody>`, `<thead>`, `<tfoot>`,
//! implied `<tbody>` included) and the kind of the open cell are kept,
//! because an end tag of the other kind is ignored (`<th>x</td>` leaves the
//! cell open, `<thead><tr><td></tbody>` too).

/// The most tables open inside one another; past it the pass gives up
/// (real pages nest a few deep).
const MAX_DEPTH: usize = 128;

/// A tag that drives the table insertion modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TableTag {
    Table,
    Caption,
    Colgroup,
    Col,
    Tbody,
    Thead,
    Tfoot,
    Tr,
    Td,
    Th,
}

impl TableTag {
    /// The table tag named `name` (any ASCII case), if it is one.
    pub(super) fn from_name(name: &[u8]) -> Option<Self> {
        let mut lower = [0u8; 8];
        let lower = lower.get_mut(..name.len())?;
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        Some(match &*lower {
            b"table" => Self::Table,
            b"caption" => Self::Caption,
            b"colgroup" => Self::Colgroup,
            b"col" => Self::Col,
            b"tbody" => Self::Tbody,
            b"thead" => Self::Thead,
            b"tfoot" => Self::Tfoot,
            b"tr" => Self::Tr,
            b"td" => Self::Td,
            b"th" => Self::Th,
            _ => return None,
        })
    }

    /// Whether this tag's end tag can change whether a cell or caption is
    /// open (`</col>` and `</colgroup>` cannot: they are ignored in cells
    /// and captions and leave table structure as it is).
    pub(super) fn end_matters(self) -> bool {
        !matches!(self, Self::Col | Self::Colgroup)
    }

    fn section(self) -> Option<Section> {
        match self {
            Self::Tbody => Some(Section::Tbody),
            Self::Thead => Some(Section::Thead),
            Self::Tfoot => Some(Section::Tfoot),
            _ => None,
        }
    }
}

/// The open row group of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Tbody,
    Thead,
    Tfoot,
}

/// The kind of an open cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellKind {
    Td,
    Th,
}

/// The insertion mode of one open table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// "in table" (or "in column group"): no row group open.
    Table,
    /// "in table body".
    Body(Section),
    /// "in row".
    Row(Section),
    /// "in cell".
    Cell(Section, CellKind),
    /// "in caption".
    Caption,
}

/// Where a tag met now would be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Placement {
    /// No table is open.
    Outside,
    /// In a cell or caption of the innermost open table: in document
    /// order.
    Content,
    /// In table structure: a tree builder would move it before the table.
    Structure,
}

/// Tables nest deeper than [`MAX_DEPTH`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TooDeep;

/// The insertion modes of the open tables, innermost last.
#[derive(Debug, Default)]
pub(super) struct Tables {
    open: Vec<Mode>,
}

impl Tables {
    /// Whether a table is open.
    pub(super) fn is_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Where a tag met now would be placed.
    pub(super) fn placement(&self) -> Placement {
        match self.open.last() {
            None => Placement::Outside,
            Some(Mode::Cell(..) | Mode::Caption) => Placement::Content,
            Some(_) => Placement::Structure,
        }
    }

    /// A table tag's start tag.
    pub(super) fn start(&mut self, tag: TableTag) -> Result<(), TooDeep> {
        let Some(mode) = self.open.last_mut() else {
            // "in body" ignores every other table tag.
            if tag == TableTag::Table {
                self.open.push(Mode::Table);
            }
            return Ok(());
        };
        if tag != TableTag::Table {
            *mode = start_in(*mode, tag);
            return Ok(());
        }
        match mode {
            // "in body": a table inside the cell or caption.
            Mode::Cell(..) | Mode::Caption => {
                if self.open.len() >= MAX_DEPTH {
                    return Err(TooDeep);
                }
                self.open.push(Mode::Table);
            }
            // "in table": the open table is closed, the mode reset from
            // the elements around it (the cell or caption of the table
            // around it, or none: "in body" either way) and the start tag
            // handled again there, opening a table at the same level.
            _ => *mode = Mode::Table,
        }
        Ok(())
    }

    /// A table tag's end tag.
    pub(super) fn end(&mut self, tag: TableTag) {
        let Some(mode) = self.open.last_mut() else {
            // Outside tables an end tag of a table tag changes nothing
            // here: "in body" ignores them.
            return;
        };
        match end_in(*mode, tag) {
            Some(next) => *mode = next,
            // The mode is reset from the elements around the table: the
            // cell or caption of the table around it, kept as it was.
            None => {
                self.open.pop();
            }
        }
    }
}

/// The mode after a start tag other than `<table>` in `mode`.
fn start_in(mode: Mode, tag: TableTag) -> Mode {
    use TableTag as T;
    let kind = |tag| {
        if tag == T::Th {
            CellKind::Th
        } else {
            CellKind::Td
        }
    };
    match (mode, tag) {
        // "in cell": every table tag but `<table>` closes the cell and is
        // handled again "in row".
        (Mode::Cell(section, _), _) => start_in(Mode::Row(section), tag),
        // "in caption": each closes the caption, again "in table".
        (Mode::Caption, _) => start_in(Mode::Table, tag),
        (Mode::Table, T::Caption) => Mode::Caption,
        // `<col>` opens a `<colgroup>`: "in column group", folded in.
        (Mode::Table, T::Colgroup | T::Col) => Mode::Table,
        // A `<tr>` or cell opens an implied `<tbody>`.
        (Mode::Table, T::Tr) => Mode::Row(Section::Tbody),
        (Mode::Table, T::Td | T::Th) => Mode::Cell(Section::Tbody, kind(tag)),
        (Mode::Table, T::Tbody | T::Thead | T::Tfoot) => {
            Mode::Body(tag.section().unwrap_or(Section::Tbody))
        }
        // Not reached: [`Tables::start`] handles `<table>` itself.
        (Mode::Table, T::Table) => Mode::Table,
        (Mode::Body(section), T::Tr) => Mode::Row(section),
        // A cell opens an implied `<tr>`.
        (Mode::Body(section), T::Td | T::Th) => Mode::Cell(section, kind(tag)),
        // The others close the row group, again "in table".
        (Mode::Body(_), _) => start_in(Mode::Table, tag),
        (Mode::Row(section), T::Td | T::Th) => Mode::Cell(section, kind(tag)),
        // The others close the row, again "in table body".
        (Mode::Row(section), _) => start_in(Mode::Body(section), tag),
    }
}

/// The mode after an end tag in `mode`; `None`: the table is closed.
fn end_in(mode: Mode, tag: TableTag) -> Option<Mode> {
    use TableTag as T;
    let same_section = |section| tag.section() == Some(section);
    match (mode, tag) {
        (_, T::Table) => None,
        (Mode::Body(section), _) if same_section(section) => Some(Mode::Table),
        (Mode::Row(section), T::Tr) => Some(Mode::Body(section)),
        (Mode::Row(section), _) if same_section(section) => Some(Mode::Table),
        (Mode::Cell(section, CellKind::Td), T::Td) | (Mode::Cell(section, CellKind::Th), T::Th) => {
            Some(Mode::Row(section))
        }
        // `</tr>` closes the cell and the row; a row group's end tag, if
        // it is the open one, the row group too.
        (Mode::Cell(section, _), T::Tr) => Some(Mode::Body(section)),
        (Mode::Cell(section, _), _) if same_section(section) => Some(Mode::Table),
        (Mode::Caption, T::Caption) => Some(Mode::Table),
        // Ignored: an end tag whose element is not open in table scope,
        // `</caption>` in a cell, `</td>` in a caption, `</col>`, …
        _ => Some(mode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The placement after feeding `tags`: `<x>` a start tag, `</x>` an
    /// end tag, all of them table tags.
    fn after(tags: &str) -> Placement {
        let mut tables = Tables::default();
        for tag in tags.split_inclusive('>') {
            let (end, name) = match tag.strip_prefix("</") {
                Some(name) => (true, name),
                None => (false, tag.strip_prefix('<').expect("a tag")),
            };
            let name = name.strip_suffix('>').expect("a tag");
            let tag = TableTag::from_name(name.as_bytes()).expect("a table tag");
            if end {
                tables.end(tag);
            } else {
                tables.start(tag).expect("not too deep");
            }
        }
        tables.placement()
    }

    use Placement::{Content, Outside, Structure};

    #[test]
    fn names_are_read_in_any_case_and_only_table_tags_count() {
        assert_eq!(TableTag::from_name(b"TD"), Some(TableTag::Td));
        assert_eq!(TableTag::from_name(b"ColGroup"), Some(TableTag::Colgroup));
        for name in [&b"t"[..], b"tdx", b"div", b"", b"colgroups", b"tablexyz"] {
            assert_eq!(TableTag::from_name(name), None, "{name:?}");
        }
        assert!(TableTag::Td.end_matters() && !TableTag::Col.end_matters());
    }

    #[test]
    fn well_formed_tables_have_cells_and_captions_as_content() {
        assert_eq!(after(""), Outside);
        assert_eq!(after("<table>"), Structure);
        assert_eq!(after("<table><caption>"), Content);
        assert_eq!(after("<table><caption></caption>"), Structure);
        assert_eq!(after("<table><tbody><tr><td>"), Content);
        assert_eq!(after("<table><thead><tr><th>"), Content);
        assert_eq!(after("<table><tr><td></td>"), Structure);
        assert_eq!(after("<table><tr><td></td></tr>"), Structure);
        assert_eq!(after("<table><tr><td></td></tr></table>"), Outside);
        assert_eq!(
            after(
                "<table><colgroup><col><col></colgroup><thead><tr><th></th></tr></thead><tbody><tr><td>"
            ),
            Content
        );
    }

    #[test]
    fn implied_end_tags_close_cells_rows_and_captions() {
        // A cell closes the one before it.
        assert_eq!(after("<table><tr><td><td>"), Content);
        assert_eq!(after("<table><tr><td><td></td>"), Structure);
        // Rows, row groups, columns and captions close the cell.
        for tag in [
            "<tr>",
            "<tbody>",
            "<thead>",
            "<tfoot>",
            "<col>",
            "<colgroup>",
        ] {
            assert_eq!(after(&format!("<table><tr><td>{tag}")), Structure, "{tag}");
            assert_eq!(after(&format!("<table><caption>{tag}")), Structure, "{tag}");
        }
        assert_eq!(after("<table><tr><td><caption>"), Content);
        assert_eq!(after("<table><caption><td>"), Content);
        assert_eq!(after("<table><caption><caption>"), Content);
        // Cells, rows and row groups are implied by what is inside them.
        assert_eq!(after("<table><td>"), Content);
        assert_eq!(after("<table><tbody><th>"), Content);
        assert_eq!(after("<table><colgroup><td>"), Content);
        assert_eq!(after("<table><col><caption>"), Content);
    }

    #[test]
    fn end_tags_close_only_what_is_open() {
        // `</tr>`, `</table>` and the open row group's end tag close the
        // cell; another row group's end tag is ignored.
        assert_eq!(after("<table><tr><td></tr>"), Structure);
        assert_eq!(after("<table><tr><td></table>"), Outside);
        assert_eq!(after("<table><tr><td></tbody>"), Structure);
        assert_eq!(after("<table><thead><tr><td></tbody>"), Content);
        assert_eq!(after("<table><thead><tr><td></thead>"), Structure);
        assert_eq!(after("<table><tfoot><tr><td></tfoot><td>"), Content);
        // A cell's end tag of the other kind, `</caption>` in a cell and
        // cell end tags in a caption are ignored.
        assert_eq!(after("<table><tr><th></td>"), Content);
        assert_eq!(after("<table><tr><th></th>"), Structure);
        assert_eq!(after("<table><tr><td></caption>"), Content);
        for tag in [
            "</td>",
            "</th>",
            "</tr>",
            "</tbody>",
            "</col>",
            "</colgroup>",
        ] {
            assert_eq!(after(&format!("<table><caption>{tag}")), Content, "{tag}");
            assert_eq!(
                after(&format!("<table><tr><td>{tag}<td>")),
                Content,
                "{tag}"
            );
        }
        assert_eq!(after("<table><caption></table>"), Outside);
        // End tags without their element, and outside tables, change
        // nothing.
        assert_eq!(after("<table></td></tr></tbody></caption><td>"), Content);
        assert_eq!(after("</table></td><table>"), Structure);
        assert_eq!(after("<td><caption><tr>"), Outside);
    }

    #[test]
    fn tables_nest_in_cells_and_captions_and_replace_each_other_elsewhere() {
        assert_eq!(after("<table><tr><td><table>"), Structure);
        assert_eq!(after("<table><tr><td><table><tr><td>"), Content);
        assert_eq!(after("<table><tr><td><table></table>"), Content);
        assert_eq!(
            after("<table><tr><td><table><td></td></table><td>"),
            Content
        );
        assert_eq!(after("<table><tr><td><table><td></table></td>"), Structure);
        assert_eq!(after("<table><caption><table></table>"), Content);
        // The inner table's `</caption>` and cell end tags are its own.
        assert_eq!(after("<table><caption><table></caption>"), Structure);
        // A table in table structure closes the open one: one `</table>`
        // leaves no table open.
        assert_eq!(after("<table><table>"), Structure);
        assert_eq!(after("<table><tr><table></table>"), Outside);
        assert_eq!(after("<table><tr><td><table><tr><table></table>"), Content);
        assert_eq!(
            after("<table><tr><td><table><tr><table></table></table>"),
            Outside
        );
    }

    #[test]
    fn hostile_nesting_is_bounded() {
        let mut tables = Tables::default();
        let mut result = Ok(());
        for _ in 0..MAX_DEPTH + 1 {
            result = result
                .and_then(|()| tables.start(TableTag::Table))
                .and_then(|()| tables.start(TableTag::Td));
        }
        assert_eq!(result, Err(TooDeep));
        assert!(tables.open.len() <= MAX_DEPTH);
    }
}
