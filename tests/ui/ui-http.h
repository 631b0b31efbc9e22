// A blocking HTTP request for workbench tests (QNetworkAccessManager on the test's event loop).
#pragma once

#include <QByteArray>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QString>
#include <QUrl>

#include "ui-test-env.h"

namespace cyllm::test {

struct Reply {
  int status = 0;
  QNetworkReply::NetworkError error = QNetworkReply::NoError;
  QByteArray body;
};

// GET, or POST with a JSON body when `post` is not empty; waits up to 60 s.
inline Reply request(QNetworkAccessManager& net, const QString& url, const QByteArray& post = {}, const QString& key = {}) {
  QNetworkRequest r{QUrl(url)};
  r.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
  if (!key.isEmpty()) r.setRawHeader("Authorization", "Bearer " + key.toUtf8());
  QNetworkReply* rep = post.isEmpty() ? net.get(r) : net.post(r, post);
  waitUntil([&] { return rep->isFinished(); }, 60000);
  Reply out;
  out.status = rep->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
  out.error = rep->error();
  out.body = rep->readAll();
  rep->deleteLater();
  return out;
}

}  // namespace cyllm::test
