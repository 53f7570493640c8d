//! The scheduler: places pods that name no node, binding them through `pods/binding`.
