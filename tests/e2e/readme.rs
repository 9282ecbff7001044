//! The README's walk-through, run as written: every ```sh block that starts with `grpcurl` is run
//! against the real binary on a fresh `--store memory:`, and its output compared with the ```json
//! block (as JSON values) or the ```text block (line by line) that follows it.

use std::process::Command;

use hourglass_e2e::{BinaryServer, grpcurl_available};
use serde_json::Value;

const README: &str = include_str!("../../README.md");

/// The address the README's commands use; the test puts its server's address in its place.
const README_ADDRESS: &str = "127.0.0.1:50051";

/// A fenced code block of the README: its language and its lines.
#[derive(Debug)]
struct Block {
    language: String,
    text: String,
    /// The 1-based line of its opening fence, for messages.
    line: usize,
}

/// Returns every fenced code block of a Markdown text, in order.
fn code_blocks(markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (line_idx, line) in markdown.lines().enumerate() {
        match (open.take(), line.strip_prefix("```")) {
            (None, Some(language)) => {
                open = Some(Block {
                    language: language.trim().to_owned(),
                    text: String::new(),
                    line: line_idx + 1,
                });
            }
            (Some(block), Some(_closing)) => blocks.push(block),
            (Some(mut block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "the README has an unclosed code block");
    blocks
}

/// One grpcurl call of the walk-through and what it prints.
#[derive(Debug)]
struct Example<'a> {
    command: &'a Block,
    expected: &'a Block,
}

/// Returns the README's grpcurl calls, each with the output block that follows it.
fn examples(blocks: &[Block]) -> Vec<Example<'_>> {
    let mut examples = Vec::new();
    for (block_idx, block) in blocks.iter().enumerate() {
        if block.language != "sh" || !block.text.trim_start().starts_with("grpcurl ") {
            continue;
        }
        let expected = blocks
            .get(block_idx + 1)
            .filter(|next| next.language == "json" || next.language == "text")
            .unwrap_or_else(|| {
                panic!(
                    "README line {}: a grpcurl command must be followed by a ```json or ```text block with its output",
                    block.line
                )
            });
        examples.push(Example {
            command: block,
            expected,
        });
    }
    examples
}

#[test]
fn finds_the_commands_and_their_outputs() {
    let blocks = code_blocks("text\n```sh\ngrpcurl a\n```\n\n```json\n{}\n```\n```sh\ncargo test\n```\n");
    let examples = examples(&blocks);
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].command.text, "grpcurl a\n");
    assert_eq!(examples[0].expected.language, "json");
    assert_eq!(examples[0].expected.line, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walk_through_answers_as_written() {
    let blocks = code_blocks(README);
    let examples = examples(&blocks);
    assert!(
        examples.len() >= 9,
        "the README's walk-through has {} grpcurl commands, expected at least 9",
        examples.len()
    );
    if !grpcurl_available() {
        return;
    }
    let server = BinaryServer::start("memory:").await;
    let addr = server.addr.to_string();
    for Example { command, expected } in examples {
        let script = command.text.replace(README_ADDRESS, &addr);
        let output = Command::new("sh").args(["-c", &script]).output().expect("run sh");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = command.line;
        if expected.language == "json" {
            assert!(
                output.status.success(),
                "README line {line}: the command failed:\n{}{stderr}",
                command.text
            );
            let actual: Value = serde_json::from_str(&stdout).unwrap_or_else(|error| {
                panic!("README line {line}: grpcurl printed no JSON ({error}):\n{stdout}")
            });
            let written: Value = serde_json::from_str(&expected.text).unwrap_or_else(|error| {
                panic!("README line {}: the block is not JSON: {error}", expected.line)
            });
            assert_eq!(
                actual, written,
                "README line {line}: the answer differs from the README's block at line {}; grpcurl printed:\n{stdout}",
                expected.line
            );
        } else {
            let printed = format!("{stdout}{stderr}");
            let printed: Vec<&str> = printed.lines().map(str::trim_end).collect();
            let written: Vec<&str> = expected.text.lines().map(str::trim_end).collect();
            assert_eq!(
                printed, written,
                "README line {line}: the output differs from the README's block at line {}",
                expected.line
            );
        }
    }
}
