//! An error and its causes in one line, `outer: inner: innermost`: many libraries' own text
//! ("error sending request") hides why a call failed (a refused connection, an unknown
//! certificate issuer), which is what an operator needs to read. A cause whose text the line
//! already holds is not repeated.

/// `e` followed by each of its sources.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);
    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as &dyn std::error::Error)
        }
    }

    #[test]
    fn causes_follow_the_error_once_each() {
        let e = Layer(
            "error sending request",
            Some(Box::new(Layer(
                "connection refused",
                Some(Box::new(Layer("refused", None))),
            ))),
        );
        assert_eq!(error_chain(&e), "error sending request: connection refused");
        assert_eq!(error_chain(&Layer("alone", None)), "alone");
    }
}
