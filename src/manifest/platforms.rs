//! `[project] python` and `platform` / `platforms`: the environments the locks cover, checked
//! and located in the manifest's text.

use super::{Checker, ManifestError, Project};
use crate::target::{self, Platform, TargetError};
use crate::universe::{self, Universe};

impl Checker<'_> {
    /// The declared environments, and the platform as written (several joined by `, `).
    pub(super) fn universe(
        &self,
        project: &Project,
    ) -> Result<(Option<String>, Universe), ManifestError> {
        let python = &project.python;
        let pythons = universe::pythons(python.get_ref())
            .map_err(|e| self.at(Some(python.span()), e.to_string()))?;
        let (written, platforms) = match (&project.platform, &project.platforms) {
            (Some(one), Some(many)) => {
                return Err(self.at(
                    Some(many.span()),
                    format!(
                        "`platform = \"{}\"` and `platforms` both declared: keep one (`platforms` may list a single platform)",
                        one.get_ref()
                    ),
                ));
            }
            (Some(one), None) => {
                let platform = target::parse_platform(one.get_ref())
                    .map_err(|e| self.at(Some(one.span()), e.to_string()))?;
                (Some(one.get_ref().clone()), vec![platform])
            }
            (None, Some(many)) => {
                if many.get_ref().is_empty() {
                    return Err(self.at(
                        Some(many.span()),
                        "`platforms` is empty: list at least one platform, e.g. [\"linux-x86_64\"]"
                            .to_string(),
                    ));
                }
                let platforms = many
                    .get_ref()
                    .iter()
                    .map(|p| {
                        target::parse_platform(p.get_ref())
                            .map_err(|e| self.at(Some(p.span()), e.to_string()))
                    })
                    .collect::<Result<Vec<Platform>, _>>()?;
                let names: Vec<&str> = many
                    .get_ref()
                    .iter()
                    .map(|p| p.get_ref().as_str())
                    .collect();
                (Some(names.join(", ")), platforms)
            }
            (None, None) => {
                let host = target::host().map_err(|e| self.at(None, e.to_string()))?;
                (None, vec![host])
            }
        };
        let span = project
            .platforms
            .as_ref()
            .map(|p| p.span())
            .or_else(|| project.platform.as_ref().map(|p| p.span()));
        let universe = Universe::new(platforms, pythons).map_err(|e| match e {
            TargetError::Indistinct { .. } | TargetError::Twice(_) => self.at(span, e.to_string()),
            _ => self.at(Some(python.span()), e.to_string()),
        })?;
        Ok((written, universe))
    }
}
