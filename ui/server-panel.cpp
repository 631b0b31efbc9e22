#include "ui/server-panel.h"

#include <chrono>

#include <QDateTime>
#include <QDialog>
#include <QDialogButtonBox>
#include <QEvent>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include "ui/row-table.h"
#include "workbench/server-host.h"

namespace cyllm::ui {

namespace {
constexpr int kMaxLogRows = 500;
int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
QString when(int64_t s) { return s ? QDateTime::fromSecsSinceEpoch(s).toString(QStringLiteral("yyyy-MM-dd HH:mm")) : QString(); }
}  // namespace

ServerPanel::ServerPanel(workbench::ServerHost* server, QWidget* parent) : QWidget(parent), server_(server) {
  auto* v = new QVBoxLayout(this);
  auto* top = new QHBoxLayout();
  listen_box_ = new QGroupBox(this);
  listen_form_ = new QFormLayout(listen_box_);
  host_ = new QLineEdit(listen_box_);
  host_->setObjectName(QStringLiteral("host"));
  port_ = new QSpinBox(listen_box_);
  port_->setObjectName(QStringLiteral("port"));
  port_->setRange(0, 65535);
  key_rpm_ = new QSpinBox(listen_box_);
  key_rpm_->setRange(0, 1000000);
  tenant_rpm_ = new QSpinBox(listen_box_);
  tenant_rpm_->setRange(0, 1000000);
  for (QWidget* f : {static_cast<QWidget*>(host_), static_cast<QWidget*>(port_), static_cast<QWidget*>(key_rpm_),
                     static_cast<QWidget*>(tenant_rpm_)})
    listen_form_->addRow(new QLabel(listen_box_), f);
  toggle_ = new QPushButton(listen_box_);
  toggle_->setObjectName(QStringLiteral("toggle"));
  toggle_->setCheckable(true);
  state_ = new QLabel(listen_box_);
  state_->setObjectName(QStringLiteral("state"));
  state_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  state_->setWordWrap(true);
  listen_form_->addRow(toggle_, state_);
  top->addWidget(listen_box_, 1);

  keys_box_ = new QGroupBox(this);
  auto* kv = new QVBoxLayout(keys_box_);
  keys_ = makeRowTable(6, QStringLiteral("keys"), keys_box_);
  kv->addWidget(keys_);
  auto* kb = new QHBoxLayout();
  create_ = new QPushButton(keys_box_);
  rotate_ = new QPushButton(keys_box_);
  revoke_ = new QPushButton(keys_box_);
  kb->addWidget(create_);
  kb->addWidget(rotate_);
  kb->addWidget(revoke_);
  kb->addStretch();
  kv->addLayout(kb);
  top->addWidget(keys_box_, 2);
  v->addLayout(top);

  log_box_ = new QGroupBox(this);
  auto* lv = new QVBoxLayout(log_box_);
  log_ = makeRowTable(7, QStringLiteral("log"), log_box_);
  lv->addWidget(log_);
  v->addWidget(log_box_, 1);

  QSettings st;
  host_->setText(st.value(QStringLiteral("server/host"), QStringLiteral("127.0.0.1")).toString());
  port_->setValue(st.value(QStringLiteral("server/port"), 8080).toInt());
  key_rpm_->setValue(st.value(QStringLiteral("server/key_rpm"), 0).toInt());
  tenant_rpm_->setValue(st.value(QStringLiteral("server/tenant_rpm"), 0).toInt());

  connect(toggle_, &QPushButton::clicked, this, [this](bool on) {
    const QString err = setServing(on);
    if (!err.isEmpty()) QMessageBox::warning(this, tr("Server"), err);
  });
  // ServerHost lives on the GUI thread too: direct connection.
  connect(server_, &workbench::ServerHost::stateChanged, this, &ServerPanel::onState);
  connect(create_, &QPushButton::clicked, this, [this] {
    bool ok = false;
    const QString tenant = QInputDialog::getText(this, tr("New API key"), tr("Tenant:"), QLineEdit::Normal,
                                                 QStringLiteral("default"), &ok);
    if (!ok || tenant.trimmed().isEmpty()) return;
    const int days = QInputDialog::getInt(this, tr("New API key"), tr("Expires after (days, 0 = never):"), 90, 0, 36500, 1, &ok);
    if (ok) createKey(tenant.trimmed(), days);
  });
  connect(rotate_, &QPushButton::clicked, this, [this] {
    const qint64 id = selectedKey();
    auto* ks = server_->keys();
    if (!id || !ks) return;
    auto k = ks->rotate(id, /*grace_s=*/3600, now_s());
    if (!k) {
      QMessageBox::warning(this, tr("Rotate key"), QString::fromStdString(k.error().to_string()));
      return;
    }
    QMessageBox::information(this, tr("Rotate key"),
                             tr("The new key is shown only once; copy it now. The old key stays valid for one "
                                "hour.\n\n%1").arg(QString::fromStdString(k->plaintext)));
    refreshKeys();
  });
  connect(revoke_, &QPushButton::clicked, this, [this] {
    const qint64 id = selectedKey();
    auto* ks = server_->keys();
    if (!id || !ks) return;
    if (QMessageBox::question(this, tr("Revoke key"), tr("Revoke key %1? Requests with it are refused at once.").arg(id)) !=
        QMessageBox::Yes)
      return;
    if (auto st = ks->revoke(id, now_s()); !st)
      QMessageBox::warning(this, tr("Revoke key"), QString::fromStdString(st.error().to_string()));
    refreshKeys();
  });

  poll_.setInterval(1000);
  connect(&poll_, &QTimer::timeout, this, &ServerPanel::pollLog);
  poll_.start();
  // Show the last hour of requests at start.
  last_ts_ = QDateTime::currentMSecsSinceEpoch() - 3600 * 1000;
  retranslateUi();
  refreshKeys();
  pollLog();
  onState(server_->running(), server_->url());
}

ServerPanel::~ServerPanel() {
  QSettings st;
  st.setValue(QStringLiteral("server/host"), host_->text());
  st.setValue(QStringLiteral("server/port"), port_->value());
  st.setValue(QStringLiteral("server/key_rpm"), key_rpm_->value());
  st.setValue(QStringLiteral("server/tenant_rpm"), tenant_rpm_->value());
}

void ServerPanel::retranslateUi() {
  listen_box_->setTitle(tr("Server"));
  const QString labels[] = {tr("Host"), tr("Port"), tr("Requests/min per key"), tr("Requests/min per tenant")};
  for (int i = 0; i < 4; ++i)
    if (auto* l = qobject_cast<QLabel*>(listen_form_->itemAt(i, QFormLayout::LabelRole)->widget())) l->setText(labels[i]);
  key_rpm_->setSpecialValueText(tr("unlimited"));
  tenant_rpm_->setSpecialValueText(tr("unlimited"));
  port_->setSpecialValueText(tr("any free port"));
  keys_box_->setTitle(tr("API keys"));
  keys_->setHorizontalHeaderLabels({tr("ID"), tr("Tenant"), tr("Key hash"), tr("Created"), tr("Expires"), tr("State")});
  create_->setText(tr("Create…"));
  rotate_->setText(tr("Rotate"));
  revoke_->setText(tr("Revoke"));
  log_box_->setTitle(tr("Request log (audit store)"));
  log_->setHorizontalHeaderLabels(
      {tr("Time"), tr("Status"), tr("Method"), tr("Endpoint"), tr("Tenant"), tr("Duration (ms)"), tr("Trace ID")});
  onState(server_->running(), server_->url());
  refreshKeys();
}

void ServerPanel::changeEvent(QEvent* e) {
  if (e->type() == QEvent::LanguageChange) retranslateUi();
  QWidget::changeEvent(e);
}

void ServerPanel::setAddress(const QString& host, int port) {
  host_->setText(host);
  port_->setValue(port);
}

QString ServerPanel::setServing(bool on) {
  if (!on) {
    server_->stop();
    return {};
  }
  workbench::ServerStartOptions o;
  o.host = host_->text().trimmed();
  o.port = static_cast<quint16>(port_->value());
  o.key_limits.requests_per_min = key_rpm_->value();
  o.tenant_limits.requests_per_min = tenant_rpm_->value();
  const QString err = server_->start(o);
  if (!err.isEmpty()) onState(false, {});
  return err;
}

void ServerPanel::onState(bool running, const QString& url) {
  const QSignalBlocker b(toggle_);
  toggle_->setChecked(running);
  toggle_->setText(running ? tr("Stop server") : tr("Start server"));
  host_->setEnabled(!running);
  port_->setEnabled(!running);
  key_rpm_->setEnabled(!running);
  tenant_rpm_->setEnabled(!running);
  state_->setText(running ? tr("Listening on %1 (OpenAI-compatible: %1/v1)").arg(url) : tr("Stopped"));
}

QString ServerPanel::createKey(const QString& tenant, int expires_days, bool show_dialog) {
  auto* ks = server_->keys();
  if (!ks) return {};
  const int64_t now = now_s();
  auto k = ks->create(tenant.toStdString(), {"inference"}, expires_days > 0 ? now + int64_t(expires_days) * 86400 : 0, now);
  if (!k) {
    if (show_dialog) QMessageBox::warning(this, tr("New API key"), QString::fromStdString(k.error().to_string()));
    return {};
  }
  const QString key = QString::fromStdString(k->plaintext);
  if (show_dialog) {
    QDialog d(this);
    d.setWindowTitle(tr("New API key"));
    auto* v = new QVBoxLayout(&d);
    v->addWidget(new QLabel(tr("This key is shown only once; copy it now. Clients send it as "
                               "\"Authorization: Bearer KEY\"."), &d));
    auto* e = new QLineEdit(key, &d);
    e->setReadOnly(true);
    e->selectAll();
    v->addWidget(e);
    auto* bb = new QDialogButtonBox(QDialogButtonBox::Ok, &d);
    connect(bb, &QDialogButtonBox::accepted, &d, &QDialog::accept);
    v->addWidget(bb);
    d.exec();
  }
  refreshKeys();
  return key;
}

qint64 ServerPanel::selectedKey() const {
  const int r = keys_->currentRow();
  return r < 0 ? 0 : keys_->item(r, 0)->text().toLongLong();
}

void ServerPanel::refreshKeys() {
  auto* ks = server_->keys();
  keys_->setRowCount(0);
  if (!ks) return;
  auto list = ks->list();
  if (!list) return;
  const int64_t now = now_s();
  for (const auto& k : *list) {
    const int r = keys_->rowCount();
    keys_->insertRow(r);
    QString state = tr("active");
    if (k.revoked_s && k.revoked_s <= now) state = tr("revoked");
    else if (k.revoked_s) state = tr("rotating (valid until %1)").arg(when(k.revoked_s));
    else if (k.expires_s && k.expires_s <= now) state = tr("expired");
    const QString cells[] = {QString::number(k.id), QString::fromStdString(k.tenant), QString::fromStdString(k.hash_prefix),
                             when(k.created_s), k.expires_s ? when(k.expires_s) : tr("never"), state};
    for (int c = 0; c < 6; ++c) keys_->setItem(r, c, new QTableWidgetItem(cells[c]));
  }
  keys_->resizeColumnsToContents();
  rotate_->setEnabled(keys_->rowCount() > 0);
  revoke_->setEnabled(keys_->rowCount() > 0);
}

void ServerPanel::pollLog() {
  auto* audit = server_->audit();
  if (!audit) return;
  auto recs = audit->since(last_ts_ + 1);
  if (!recs || recs->empty()) return;
  log_->setUpdatesEnabled(false);
  for (const auto& a : *recs) {
    last_ts_ = std::max<qint64>(last_ts_, a.ts_ms);
    log_->insertRow(0);  // newest first
    const QString cells[] = {QDateTime::fromMSecsSinceEpoch(a.ts_ms).toString(QStringLiteral("HH:mm:ss.zzz")),
                             QString::number(a.status_code), QString::fromStdString(a.method),
                             QString::fromStdString(a.endpoint), QString::fromStdString(a.tenant),
                             QString::number(a.duration_ms, 'f', 1), QString::fromStdString(a.trace_id)};
    for (int c = 0; c < 7; ++c) log_->setItem(0, c, new QTableWidgetItem(cells[c]));
  }
  while (log_->rowCount() > kMaxLogRows) log_->removeRow(log_->rowCount() - 1);
  log_->resizeColumnsToContents();
  log_->setUpdatesEnabled(true);
}

}  // namespace cyllm::ui
