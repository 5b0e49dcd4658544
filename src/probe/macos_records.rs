//! Pure decisions for the macOS probe over plain records (descriptor flags, vnode identities,
//! process status), compiled everywhere so Linux CI tests them.
