//! List pagination: `?page=1&limit=50`, answered as
//! `{"data": [...], "pagination": {...}}` by every list endpoint.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;
/// Highest page number accepted (a million pages of 500 is more than any
/// list here holds).
pub const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1-based page number.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<i64>,
    /// Items per page (1-500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

impl PageQuery {
    /// (limit, offset), validated.
    pub fn resolve(&self) -> Result<(i64, i64, i64), super::error::ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(super::error::ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let page = self.page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(super::error::ApiError::invalid(
                "page",
                format!("must be between 1 and {MAX_PAGE}"),
            ));
        }
        let offset = (page - 1)
            .checked_mul(limit)
            .ok_or_else(|| super::error::ApiError::invalid("page", "is too large"))?;
        Ok((limit, offset, page))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Pagination {
    pub total: i64,
    pub page: i64,
    pub limit: i64,
    pub total_pages: i64,
}

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub data: Vec<T>,
    pub pagination: Pagination,
}

impl<T: ToSchema> Page<T> {
    pub fn new(data: Vec<T>, total: i64, page: i64, limit: i64) -> Self {
        Self {
            data,
            pagination: Pagination {
                total,
                page,
                limit,
                total_pages: (total + limit - 1) / limit,
            },
        }
    }

    /// Every item on one page: a list that is short by nature (plugins,
    /// templates, a server's databases) or bounded by its own query
    /// (`limit`, `after`) still answers `{data, pagination}` like every
    /// list.
    pub fn whole(data: Vec<T>) -> Self {
        let total = i64::try_from(data.len()).unwrap_or(i64::MAX);
        Self::new(data, total, 1, total.max(1))
    }
}

/// A case-insensitive "contains" LIKE pattern for `text`, with LIKE's
/// wildcards escaped (`\\` is the escape character).
pub fn like_pattern(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(super::like_pattern("A_b%"), "%a\\_b\\%%");
    }
}
