//! Tests of the interpreter and the driver.
