//! Routes and path matching (spec 11 §11.20.2): `:name` segments bind one non-empty
//! segment, other segments match literally, trailing slashes count, and at the first
//! position where two matching patterns differ a literal segment beats a parameter.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    /// `@ws`: a GET with a WebSocket upgrade.
    Ws,
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s {
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "WS" => Method::Ws,
            _ => Method::Get,
        }
    }

    /// The HTTP method name (`GET` for WebSocket routes).
    pub fn name(self) -> &'static str {
        match self {
            Method::Get | Method::Ws => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    /// The name in the start-up banner (`WS` for WebSocket routes).
    pub fn name_banner(self) -> &'static str {
        match self {
            Method::Ws => "WS",
            m => m.name(),
        }
    }

    /// Whether the route binds a JSON request body (POST, PUT, PATCH).
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Lit(String),
    Param(String),
}

pub struct Route {
    pub method: Method,
    pub path: String,
    pub segments: Vec<Seg>,
    /// The pattern with parameter names erased: routes with equal shapes share a path.
    pub shape: String,
    /// The handler function's name and the line of its definition.
    pub name: String,
    pub line: u32,
    /// The handler's parameter names, in order.
    pub params: Vec<String>,
}

impl Route {
    pub fn new(method: Method, path: String, name: String, line: u32, params: Vec<String>) -> Route {
        let segments: Vec<Seg> = path
            .split('/')
            .skip(1)
            .map(|s| match s.strip_prefix(':') {
                Some(n) if !n.is_empty() => Seg::Param(n.to_string()),
                _ => Seg::Lit(s.to_string()),
            })
            .collect();
        let shape = segments
            .iter()
            .map(|s| match s {
                Seg::Lit(l) => format!("/{l}"),
                Seg::Param(_) => "/:".to_string(),
            })
            .collect();
        Route { method, path, segments, shape, name, line, params }
    }

    /// The path parameters when `segs` (decoded path segments) match this route.
    fn bind(&self, segs: &[String]) -> Option<Vec<(String, String)>> {
        if segs.len() != self.segments.len() {
            return None;
        }
        let mut out = Vec::new();
        for (pat, s) in self.segments.iter().zip(segs) {
            match pat {
                Seg::Lit(l) => {
                    if l != s {
                        return None;
                    }
                }
                Seg::Param(n) => {
                    if s.is_empty() {
                        return None;
                    }
                    out.push((n.clone(), s.clone()));
                }
            }
        }
        Some(out)
    }

    /// Literal-ness of each segment, for precedence.
    fn rank(&self) -> Vec<bool> {
        self.segments.iter().map(|s| matches!(s, Seg::Lit(_))).collect()
    }
}

/// The outcome of routing one request.
#[allow(clippy::enum_variant_names)] // `NotFound` is the HTTP status's name
pub enum Found {
    /// Route index and its path parameters.
    Route(usize, Vec<(String, String)>),
    /// The path exists but not for this method: the methods it has, for `allow`.
    WrongMethod(Vec<Method>),
    NotFound,
}

/// Splits a raw path into percent-decoded segments (a `%2F` stays inside its segment).
pub fn segments(raw_path: &str) -> Vec<String> {
    raw_path
        .split('/')
        .skip(1)
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The most specific path pattern matching `segs`, then the route of `method` on it.
/// `Ws` routes answer GET requests that ask for an upgrade (`ws` = true).
pub fn find(routes: &[Route], method: &str, segs: &[String], ws: bool) -> Found {
    let mut best: Option<(Vec<bool>, &str)> = None;
    for r in routes {
        if r.bind(segs).is_some() {
            let rank = r.rank();
            if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                best = Some((rank, &r.shape));
            }
        }
    }
    let Some((_, shape)) = best else { return Found::NotFound };
    let on_path: Vec<usize> = (0..routes.len()).filter(|&i| routes[i].shape == shape).collect();
    let wanted = |m: Method| match (method, m) {
        ("GET" | "HEAD", Method::Ws | Method::Get) => true,
        (name, m) => m != Method::Ws && m != Method::Get && name == m.name(),
    };
    // A WebSocket upgrade prefers the WS route, a plain GET the GET route (a plain
    // GET of a path with only a WS route reaches it and is answered 400).
    let pick = on_path
        .iter()
        .copied()
        .filter(|&i| wanted(routes[i].method))
        .max_by_key(|&i| (routes[i].method == Method::Ws) == ws);
    match pick {
        Some(i) => Found::Route(i, routes[i].bind(segs).unwrap_or_default()),
        None => Found::WrongMethod(on_path.iter().map(|&i| routes[i].method).collect()),
    }
}

/// The `allow` header for a path with these route methods (a GET route also allows
/// HEAD).
pub fn allow_header(methods: &[Method]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for m in methods {
        let n = m.name();
        if !names.contains(&n) {
            names.push(n);
        }
        if n == "GET" && !names.contains(&"HEAD") {
            names.push("HEAD");
        }
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(m: Method, p: &str) -> Route {
        Route::new(m, p.into(), "h".into(), 1, Vec::new())
    }

    #[test]
    fn literal_beats_parameter_whatever_the_order() {
        let routes = vec![r(Method::Get, "/users/:id"), r(Method::Get, "/users/me")];
        match find(&routes, "GET", &segments("/users/me"), false) {
            Found::Route(i, p) => {
                assert_eq!(i, 1);
                assert!(p.is_empty());
            }
            _ => panic!("no route"),
        }
        match find(&routes, "GET", &segments("/users/42"), false) {
            Found::Route(0, p) => assert_eq!(p, vec![("id".to_string(), "42".to_string())]),
            _ => panic!("wrong route"),
        }
    }

    #[test]
    fn encoded_slash_stays_in_its_segment() {
        let routes = vec![r(Method::Get, "/files/:name")];
        match find(&routes, "GET", &segments("/files/a%2Fb"), false) {
            Found::Route(0, p) => assert_eq!(p[0].1, "a/b"),
            _ => panic!("no route"),
        }
    }

    #[test]
    fn wrong_method_lists_allowed_and_trailing_slash_is_significant() {
        let routes = vec![r(Method::Get, "/x"), r(Method::Post, "/x")];
        match find(&routes, "DELETE", &segments("/x"), false) {
            Found::WrongMethod(ms) => assert_eq!(allow_header(&ms), "GET,HEAD,POST"),
            _ => panic!("expected 405"),
        }
        assert!(matches!(find(&routes, "GET", &segments("/x/"), false), Found::NotFound));
        assert!(matches!(find(&routes, "GET", &segments("/y"), false), Found::NotFound));
    }

    #[test]
    fn empty_segment_does_not_bind_a_parameter() {
        let routes = vec![r(Method::Get, "/items/:id")];
        assert!(matches!(find(&routes, "GET", &segments("/items/"), false), Found::NotFound));
    }
}
