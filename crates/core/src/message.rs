//! Messages and their vocabulary: categories, entry points, platforms, inbound and outbound messages.

/// The category of a conversation, in the order that breaks ties between conversations opened at the
/// same instant: marketing, utility, authentication, service (then free entry point).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    Service,
    FreeEntryPoint,
}

/// The category of a template: the ones a template can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
}

impl From<TemplateCategory> for Category {
    fn from(category: TemplateCategory) -> Category {
        match category {
            TemplateCategory::Marketing => Category::Marketing,
            TemplateCategory::Utility => Category::Utility,
            TemplateCategory::Authentication => Category::Authentication,
        }
    }
}

/// How an inbound message reached the business.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EntryPoint {
    #[default]
    Organic,
    ClickToWhatsAppAd,
    PageCallToAction,
}

/// The customer's client. Only mobile clients open free-entry-point response windows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ClientPlatform {
    /// Not said: counts as mobile.
    #[default]
    Unspecified,
    Android,
    Ios,
    Web,
    Desktop,
}

impl ClientPlatform {
    /// Returns whether the platform counts as mobile (Android, iOS, or not said).
    pub fn is_mobile(self) -> bool {
        matches!(
            self,
            ClientPlatform::Unspecified | ClientPlatform::Android | ClientPlatform::Ios
        )
    }
}

/// A message from the customer to the business.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Inbound {
    pub entry_point: EntryPoint,
    pub platform: ClientPlatform,
}

impl Inbound {
    /// Returns whether this message opens a free-entry-point response window.
    pub fn opens_response_window(&self) -> bool {
        self.entry_point != EntryPoint::Organic && self.platform.is_mobile()
    }
}

/// A template message: the name and language identify it, the category prices it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
}

/// A message from the business.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outbound {
    /// Any non-template message.
    FreeForm,
    Template(Template),
}
