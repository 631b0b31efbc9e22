#include "ui/translator.h"

#include <QApplication>
#include <QEvent>
#include <QLibraryInfo>
#include <QTranslator>

namespace cyllm::ui {

namespace {
QTranslator* g_app = nullptr;  // our strings
QTranslator* g_qt = nullptr;   // Qt's own (standard buttons, dialogs), when installed on the system
QString g_current = QStringLiteral("en");
}  // namespace

QStringList availableLanguages() { return {QStringLiteral("en"), QStringLiteral("zh_CN")}; }

QString languageName(const QString& code) {
  if (code == QLatin1String("zh_CN")) return QStringLiteral("简体中文");
  return QStringLiteral("English");
}

bool setLanguage(const QString& code) {
  if (code == g_current) return true;
  if (code != QLatin1String("en")) {
    auto* t = new QTranslator(qApp);
    if (!t->load(QStringLiteral(":/i18n/cyllm_%1.qm").arg(code))) {
      delete t;
      return false;
    }
    auto* qt = new QTranslator(qApp);
    if (!qt->load(QStringLiteral("qtbase_%1").arg(code), QLibraryInfo::path(QLibraryInfo::TranslationsPath))) {
      delete qt;
      qt = nullptr;
    }
    if (g_app) QApplication::removeTranslator(g_app), delete g_app;
    if (g_qt) QApplication::removeTranslator(g_qt), delete g_qt;
    g_app = t;
    g_qt = qt;
    QApplication::installTranslator(g_app);  // sends LanguageChange to every widget
    if (g_qt) QApplication::installTranslator(g_qt);
  } else {
    if (g_app) QApplication::removeTranslator(g_app), delete g_app;
    if (g_qt) QApplication::removeTranslator(g_qt), delete g_qt;
    g_app = g_qt = nullptr;
  }
  g_current = code;
  // QApplication posts LanguageChange to each window; deliver them now so the whole interface is
  // in the new language when this returns.
  QCoreApplication::sendPostedEvents(nullptr, QEvent::LanguageChange);
  return true;
}

QString currentLanguage() { return g_current; }

}  // namespace cyllm::ui
