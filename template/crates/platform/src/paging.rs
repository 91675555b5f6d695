//! Lists that never grow with the data: a page of at most a bounded number
//! of rows, and of bytes, newest first, and a cursor to the next page.
//!
//! A list endpoint takes `?limit=&after=` ([`PageQuery`]), checks it into a
//! [`PageRequest`], fetches one row more than asked (that extra row tells
//! whether another page follows), and [`PageRequest::split`] cuts the rows
//! into the page and the `next` cursor; [`PageRequest::split_within`] also
//! ends the page before its rows pass a size in bytes (rows of free text can
//! be large, and text of control characters takes six times its length in
//! JSON: [`json_len`]), so the answer a client can ask for stays bounded
//! whatever the rows hold. The cursor is the id of the page's
//! last row; clients treat it as opaque, so it can change form without
//! breaking them. Ids must grow with time (an autoincrement key) for
//! "newest first" to hold.

use serde::Deserialize;

use crate::error::ApiError;

/// `?limit=&after=` as the client sent them.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct PageQuery {
    /// Rows per page; the endpoint's default when absent.
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page; absent or empty for the first.
    pub after: Option<String>,
}

impl PageQuery {
    /// Checks the query: `limit` from 1 to `max` (`default` when absent),
    /// `after` a cursor this API gave out. Both refusals are 422.
    pub fn check(self, default: u32, max: u32) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(ApiError::unprocessable(format!(
                "limit must be from 1 to {max}"
            )));
        }
        let before = match self.after.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(
                cursor
                    .parse::<i64>()
                    .map_err(|_| ApiError::unprocessable("after is not a cursor from this API"))?,
            ),
        };
        Ok(PageRequest { limit, before })
    }
}

/// A checked page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    limit: u32,
    before: Option<i64>,
}

impl PageRequest {
    /// How many rows to fetch: one more than the page holds.
    pub fn fetch(&self) -> u32 {
        self.limit + 1
    }

    /// Only rows with an id below this one belong on the page (`i64::MAX`
    /// on the first page, so the query needs no second form).
    pub fn before_id(&self) -> i64 {
        self.before.unwrap_or(i64::MAX)
    }

    /// Cuts the rows fetched (newest first, at most [`Self::fetch`]) into
    /// the page and the cursor of the next one, `None` on the last page.
    pub fn split<T>(&self, rows: Vec<T>, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
        self.split_within(rows, id, usize::MAX, |_| 0)
    }

    /// As [`Self::split`], and the page also ends before the rows' sizes
    /// (`size` of each, in bytes) add up to more than `max_bytes`. The
    /// first row is always on the page, so a client always gets on.
    pub fn split_within<T>(
        &self,
        mut rows: Vec<T>,
        id: impl Fn(&T) -> i64,
        max_bytes: usize,
        size: impl Fn(&T) -> usize,
    ) -> (Vec<T>, Option<String>) {
        let mut bytes = 0usize;
        let mut keep = 0;
        for row in rows.iter().take(self.limit as usize) {
            bytes = bytes.saturating_add(size(row));
            if keep > 0 && bytes > max_bytes {
                break;
            }
            keep += 1;
        }
        let more = rows.len() > keep;
        rows.truncate(keep);
        let next = more.then(|| rows.last().map(|row| id(row).to_string()));
        (rows, next.flatten())
    }
}

/// The length of `text` as a JSON string, quotes included: what it adds to
/// an answer (a control character takes six bytes, `\u0001`).
pub fn json_len(text: &str) -> usize {
    2 + text
        .chars()
        .map(|ch| match ch {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            ch if (ch as u32) < 0x20 => 6,
            ch => ch.len_utf8(),
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(limit: Option<u32>, after: Option<&str>) -> PageQuery {
        PageQuery {
            limit,
            after: after.map(str::to_owned),
        }
    }

    #[test]
    fn limits_and_cursors_are_checked() {
        let first = query(None, None).check(20, 100).unwrap();
        assert_eq!((first.fetch(), first.before_id()), (21, i64::MAX));
        let next = query(Some(5), Some("42")).check(20, 100).unwrap();
        assert_eq!((next.fetch(), next.before_id()), (6, 42));
        assert_eq!(query(None, Some("")).check(20, 100).unwrap(), first);
        for bad in [
            query(Some(0), None),
            query(Some(101), None),
            query(None, Some("x")),
        ] {
            assert!(bad.check(20, 100).is_err());
        }
    }

    #[test]
    fn the_extra_row_says_whether_another_page_follows() {
        let page = query(Some(2), None).check(20, 100).unwrap();
        assert_eq!(
            page.split(vec![9, 8, 7], |id| *id),
            (vec![9, 8], Some("8".into()))
        );
        assert_eq!(page.split(vec![9, 8], |id| *id), (vec![9, 8], None));
        assert_eq!(page.split(Vec::<i64>::new(), |id| *id), (vec![], None));
    }

    #[test]
    fn a_page_ends_before_its_bytes_pass_the_bound_and_always_holds_one_row() {
        let page = query(Some(10), None).check(20, 100).unwrap();
        let rows = vec![(9, 40), (8, 40), (7, 40), (6, 40)];
        let split = |max| page.split_within(rows.clone(), |row| row.0, max, |row| row.1);
        assert_eq!(split(100), (vec![(9, 40), (8, 40)], Some("8".into())));
        assert_eq!(split(160), (rows.clone(), None));
        assert_eq!(split(10), (vec![(9, 40)], Some("9".into())));
    }

    #[test]
    fn json_lengths_count_escapes() {
        for text in [
            "",
            "plain",
            "é€😀",
            "a\"b\\c\nd\u{1}\u{1f}e",
            "\u{7f}\u{2028}",
        ] {
            assert_eq!(
                json_len(text),
                serde_json::to_string(text).unwrap().len(),
                "{text:?}"
            );
        }
    }
}
