//! The one error type of the crate.

use std::fmt;

/// Which input document an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The object a patch is applied to, or the first object of a two-way diff.
    Original,
    /// The strategic merge patch.
    Patch,
    /// The object a patch is computed towards.
    Modified,
    /// The live object of a three-way patch.
    Current,
    /// The last-applied configuration of a three-way patch.
    LastApplied,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Original => "original object",
            Document::Patch => "patch",
            Document::Modified => "modified object",
            Document::Current => "current object",
            Document::LastApplied => "last-applied configuration",
        })
    }
}

/// Why a patch could not be applied or computed.
///
/// Paths are written `.spec.containers[0].env`, with list indices counted in the document
/// being walked (the patch, for patch elements). None of these is a server fault: the
/// apiserver answers 400 unless [`PatchError::is_unprocessable`] says 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// An input is not a JSON object.
    #[error("the {document} is not a json object but a {found}")]
    NotAnObject {
        /// The input at fault.
        document: Document,
        /// The JSON type found instead.
        found: &'static str,
    },
    /// An input nests objects and lists deeper than [`crate::MAX_DEPTH`].
    #[error("the {document} nests deeper than {max} levels")]
    TooDeep {
        /// The input at fault.
        document: Document,
        /// The limit.
        max: usize,
    },
    /// A `$patch` directive other than `replace`, `delete` or `merge`.
    #[error("unknown $patch directive {value} at {path}")]
    UnknownDirective {
        /// Where the directive is.
        path: String,
        /// The directive's value, as JSON (shortened).
        value: String,
    },
    /// A `$retainKeys`, `$setElementOrder/…` or `$deleteFromPrimitiveList/…` directive
    /// that is not shaped as the directive requires.
    #[error("invalid {directive} directive at {path}: expected {expected}")]
    MalformedDirective {
        /// Where the directive is.
        path: String,
        /// The directive's key.
        directive: String,
        /// What the directive should have been.
        expected: &'static str,
    },
    /// A patch sets a field that its own `$retainKeys` list would clear.
    #[error("field {key:?} at {path} is set by the patch but not listed in $retainKeys")]
    NotRetained {
        /// The map holding the directive.
        path: String,
        /// The field missing from the list.
        key: String,
    },
    /// The elements of a patch list are not in the order its `$setElementOrder` gives.
    #[error("the elements of list {path} in the patch do not follow its $setElementOrder list")]
    OrderMismatch {
        /// The list.
        path: String,
    },
    /// An element of a list merged by key lacks the key.
    #[error("element {path} of a list merged by {key:?} has no {key:?} field")]
    MissingMergeKey {
        /// The element.
        path: String,
        /// The merge key.
        key: String,
    },
    /// A value has a JSON type the operation cannot work with.
    #[error("expected {expected} at {path} but found a {found}")]
    WrongType {
        /// The value.
        path: String,
        /// What was needed.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A list to be merged holds elements of different JSON types.
    #[error("the elements of list {path} are not all of one type")]
    MixedElementTypes {
        /// The list.
        path: String,
    },
    /// A list to be merged holds lists.
    #[error("list {path} holds lists, which cannot be merged")]
    ListOfLists {
        /// The list.
        path: String,
    },
    /// A list of objects has a merge strategy but no merge key.
    #[error("list {path} holds objects but has no merge key to merge them by")]
    NoMergeKey {
        /// The list.
        path: String,
    },
    /// The two halves of a three-way patch disagree about a directive. Both halves derive
    /// it from the modified object, so this means the inputs changed under the engine.
    #[error("conflicting {directive} directives at {path} in a three-way patch")]
    InconsistentDirective {
        /// Where the directive is.
        path: String,
        /// The directive's key.
        directive: String,
    },
}

impl PatchError {
    /// Whether the patch is well formed but cannot apply to this object's contents, which
    /// the apiserver answers with 422 Unprocessable Entity (upstream does so for lists of
    /// lists); every other error is a malformed request, 400 Bad Request.
    pub fn is_unprocessable(&self) -> bool {
        matches!(
            self,
            PatchError::MissingMergeKey { .. }
                | PatchError::WrongType { .. }
                | PatchError::MixedElementTypes { .. }
                | PatchError::ListOfLists { .. }
                | PatchError::NoMergeKey { .. }
        )
    }
}
