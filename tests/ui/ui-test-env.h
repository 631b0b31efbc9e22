// What every workbench test shares: a private data folder and settings (so tests never touch the
// user's), the default model (skipped outside CI when absent, a failure under CI=true — the rule
// of tests/support/test-paths.h), and waiting on the event loop.
#pragma once

#include <functional>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QSettings>
#include <QTemporaryDir>
#include <QTest>

#include "support/test-paths.h"

namespace cyllm::test {

class UiTestEnv {
 public:
  UiTestEnv() {
    QCoreApplication::setOrganizationName(QStringLiteral("CY-LLM-tests"));
    QCoreApplication::setApplicationName(QStringLiteral("Workbench"));
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir_.filePath(QStringLiteral("settings")));
    qputenv("CYLLM_DATA_DIR", dataDir().toLocal8Bit());
  }
  QString dataDir() const { return dir_.filePath(QStringLiteral("data")); }
  QString path(const QString& name) const { return dir_.filePath(name); }

 private:
  QTemporaryDir dir_;
};

// Runs the event loop until pred() holds; false after timeout_ms.
inline bool waitUntil(const std::function<bool()>& pred, int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (!pred()) {
    if (t.elapsed() > timeout_ms) return false;
    QTest::qWait(10);
  }
  return true;
}

}  // namespace cyllm::test

// The default model's path into `var`, or skip (outside CI) / fail (CI=true) when it is missing.
#define CYLLM_UI_REQUIRE_MODEL(var)                                                     \
  const QString var = QString::fromStdString(::cyllm::test::default_model_path());       \
  if (var.isEmpty()) {                                                                    \
    if (::cyllm::test::in_ci()) QFAIL("default model missing under CI: run scripts/fetch-model.sh"); \
    QSKIP("default model not found; run scripts/fetch-model.sh to fetch it");              \
  }
