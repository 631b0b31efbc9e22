// Run-time language switching: English is the source language; other languages are .qm files
// embedded at :/i18n/cyllm_<code>.qm (translations/*.ts, built by qt_add_translations). Installing
// a translator sends QEvent::LanguageChange to every widget; each panel answers it in
// changeEvent() by calling its retranslateUi().
#pragma once

#include <QString>
#include <QStringList>

namespace cyllm::ui {

// "en", "zh_CN".
QStringList availableLanguages();
// The language's own name for the picker ("English", "简体中文").
QString languageName(const QString& code);
// Switches the whole application; false when the language's .qm is missing.
bool setLanguage(const QString& code);
QString currentLanguage();

}  // namespace cyllm::ui
