//! The fields that name a new person, shared by the first-admin setup form and the signup
//! form. Every field may be missing from the post: the rules decide what is required.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct PersonForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
}
