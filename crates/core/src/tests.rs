//! Tests of the rules, rule by rule.
